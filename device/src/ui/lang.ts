// The display's languages. Each is a device/lang/*.json file; the build turns it into a pack
// of "\nkey=value" lines in the font's bytes — keys of a letter or two, texts byte-pair coded
// (tools/lang-keys.cjs) — which lives in a Storage file read from flash (resources.ts): a
// lookup costs a search, not RAM. Adding a language is adding a file.

import { resource } from '../resources';

let pack = '';
let current = '';

/** Codes of the languages in this firmware, English first. */
export function languageCodes(): string[] {
  const all = __LANGUAGE_LIST__;
  const out: string[] = [];
  for (let i = 0; i < all.length; i++) out.push(all[i][0]);
  return out;
}

/** A language's own name (font bytes), e.g. "Deutsch". */
export function languageName(code: string): string {
  const all = __LANGUAGE_LIST__;
  for (let i = 0; i < all.length; i++) if (all[i][0] === code) return all[i][1];
  return code;
}

export function language(): string {
  return current;
}

/** Switches the display language; false if the firmware has no such language. */
export function setLanguage(code: string): boolean {
  if (languageCodes().indexOf(code) < 0) return false;
  pack = resource('lang.' + code);
  current = code;
  return true;
}

/** Two bytes a code byte of a pack's text stands for: the build's table (tools/lang-keys.cjs). */
const PAIRS = __LANG_PAIRS__;

/**
 * A byte of a pack's text as the text it stands for: control bytes and 0x81…0x9F (no glyph
 * has them) are pair codes, each two bytes of PAIRS — codes themselves, maybe — and any
 * other byte is itself.
 */
function unpair(c: number): string {
  const i = c < 10 ? c - 1 : c < 32 ? c - 2 : c - 0x81 + 30;
  return c > 0 && (c < 32 || (c > 0x80 && c < 0xa0)) && i * 2 < PAIRS.length ? unpair(PAIRS.charCodeAt(2 * i)) + unpair(PAIRS.charCodeAt(2 * i + 1)) : String.fromCharCode(c);
}

/** The string for `key` in the current language, "{0}" and "{1}" replaced by a and b. */
export function t(key: string, a?: string | number, b?: string | number): string {
  const at = pack.indexOf('\n' + key + '=');
  if (at < 0) return key;
  const from = at + key.length + 2;
  let end = pack.indexOf('\n', from);
  if (end < 0) end = pack.length;
  let s = '';
  for (let i = from; i < end; i++) s += unpair(pack.charCodeAt(i));
  if (a !== undefined) s = s.replace('{0}', String(a));
  if (b !== undefined) s = s.replace('{1}', String(b));
  return s;
}
