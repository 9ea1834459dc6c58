// The display's languages. Each is a device/lang/*.json file compiled into the bundle
// (tools/build.mjs → __LANGUAGES__); only the one in use is parsed and kept in memory, its
// strings mapped to font bytes once. Adding a language is adding a file.

import { toDisplay } from './text';

let strings: { [key: string]: string } = {};
let current = '';

/** Codes of the languages in this firmware, English first. */
export function languageCodes(): string[] {
  const all = __LANGUAGES__;
  const out: string[] = [];
  for (let i = 0; i < all.length; i++) out.push(all[i][0]);
  return out;
}

/** A language's own name (font bytes), e.g. "Deutsch". */
export function languageName(code: string): string {
  const all = __LANGUAGES__;
  for (let i = 0; i < all.length; i++) if (all[i][0] === code) return toDisplay(all[i][1], true) || code;
  return code;
}

export function language(): string {
  return current;
}

/** Switches the display language; false if the firmware has no such language. */
export function setLanguage(code: string): boolean {
  const all = __LANGUAGES__;
  for (let i = 0; i < all.length; i++) {
    if (all[i][0] !== code) continue;
    const raw = JSON.parse(all[i][2]) as { [key: string]: string };
    const out: { [key: string]: string } = {};
    const keys = Object.keys(raw);
    // a string the font cannot draw is shown escaped rather than lost (tests keep it from happening)
    for (let k = 0; k < keys.length; k++) out[keys[k]] = toDisplay(raw[keys[k]], true) || '';
    strings = out;
    current = code;
    return true;
  }
  return false;
}

/** The string for `key` in the current language, "{0}" and "{1}" replaced by a and b. */
export function t(key: string, a?: string | number, b?: string | number): string {
  let s = strings[key];
  if (s === undefined) return key;
  if (a !== undefined) s = s.replace('{0}', String(a));
  if (b !== undefined) s = s.replace('{1}', String(b));
  return s;
}
