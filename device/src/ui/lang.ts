// The display's languages. Each is a device/lang/*.json file; the build turns it into a pack
// of "\nkey=value" lines in the font's bytes, which lives in a Storage file read from flash
// (resources.ts): a lookup costs a search, not RAM. Adding a language is adding a file.

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

/** The string for `key` in the current language, "{0}" and "{1}" replaced by a and b. */
export function t(key: string, a?: string | number, b?: string | number): string {
  const at = pack.indexOf('\n' + key + '=');
  if (at < 0) return key;
  const from = at + key.length + 2;
  const end = pack.indexOf('\n', from);
  let s = pack.substring(from, end < 0 ? pack.length : end);
  if (a !== undefined) s = s.replace('{0}', String(a));
  if (b !== undefined) s = s.replace('{1}', String(b));
  return s;
}
