'use strict';
// Short names for the display strings' keys, given at build time.
//
// The firmware asks for its texts by key — t('foot.idle') — and each language pack in Storage
// is "\nkey=text" lines (device/src/ui/lang.ts). Written out, the 92 keys cost their bytes
// three times over: once in the code and once in each pack. The build gives each key a name
// of one or two letters and rewrites, as it bundles device/src, every string literal that is
// exactly a key; the packs are written with the same names. A key built at run time from a
// literal prefix and a number — t('err.' + code), t('kind.' + st.kind) — keeps working: the
// prefix literal becomes an upper-case letter and its keys that letter and their number.
// Source and device/lang/*.json keep the readable keys; only the bundle and the packs change.

/** Lower-case names for plain keys: a … z, aa, ab, … (upper case is for prefixes). */
function plainName(n) {
  let s = '';
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return s;
}

/**
 * The short name of every key of `keys`, in order. `sources` are the texts of the firmware's
 * source files: a literal there that ends with '.' and starts keys ending in a number is a
 * prefix (its keys are `<letter><number>`).
 * @param {string[]} keys
 * @param {string[]} sources
 * @returns {{ keys: Record<string, string>, prefixes: Record<string, string> }}
 */
function langKeyNames(keys, sources) {
  const literals = new Set();
  for (const text of sources) for (const m of text.matchAll(/'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"/g)) literals.add(m[1] ?? m[2]);
  const prefixes = {};
  const names = {};
  for (const k of keys) {
    const m = /^(.+\.)(\d+)$/.exec(k);
    if (m && literals.has(m[1])) {
      if (!(m[1] in prefixes)) prefixes[m[1]] = String.fromCharCode(65 + Object.keys(prefixes).length);
      names[k] = prefixes[m[1]] + m[2];
    }
  }
  let n = 0;
  for (const k of keys) if (!(k in names)) names[k] = plainName(n++);
  return { keys: names, prefixes };
}

/** `text` (TypeScript source) with every string literal that is a key or a prefix renamed. */
function renameLangKeys(text, names) {
  return text.replace(/'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"/g, (all, a, b) => {
    const s = a ?? b;
    const to = Object.prototype.hasOwnProperty.call(names.keys, s) ? names.keys[s] : Object.prototype.hasOwnProperty.call(names.prefixes, s) ? names.prefixes[s] : undefined;
    return to === undefined ? all : "'" + to + "'";
  });
}

exports.langKeyNames = langKeyNames;
exports.renameLangKeys = renameLangKeys;
