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

/**
 * The bytes a pack may use as pair codes: none of them is ever a text byte (the font draws
 * neither control characters nor 0x81…0x9F), and neither is '\n', the pack's separator.
 * Code number i (0…60) is the byte codeByte(i); device/src/ui/lang.ts computes i back.
 */
const PAIR_CODES = [];
for (let c = 1; c < 32; c++) if (c !== 10) PAIR_CODES.push(c);
for (let c = 0x81; c <= 0x9f; c++) PAIR_CODES.push(c);

/**
 * Byte-pair coding of the texts of every language pack (texts are byte strings in the font's
 * bytes): the most frequent pair of bytes becomes a code byte, again and again while a pair
 * still occurs four times or more, at most 61 codes. Returns the table — two bytes per code,
 * in code order — and each text coded. A code stands for its two bytes, each of which may be
 * a code itself: the firmware expands them (lang.ts unpair()).
 * @param {string[]} texts
 * @returns {{ table: string, coded: string[] }}
 */
function pairCode(texts) {
  for (const t of texts) for (const c of PAIR_CODES) if (t.includes(String.fromCharCode(c))) throw new Error(`a text holds byte ${c}, which the pair coding needs: ${JSON.stringify(t)}`);
  let seqs = texts.map((t) => [...t].map((ch) => ch.charCodeAt(0)));
  let table = '';
  for (const code of PAIR_CODES) {
    const count = new Map();
    for (const s of seqs) for (let i = 0; i + 1 < s.length; i++) count.set(s[i] * 256 + s[i + 1], (count.get(s[i] * 256 + s[i + 1]) || 0) + 1);
    let best = -1;
    let most = 3;
    for (const [pair, n] of count) if (n > most || (n === most && best >= 0 && pair < best)) [best, most] = [pair, n];
    if (best < 0) break;
    const a = best >> 8;
    const b = best & 255;
    table += String.fromCharCode(a, b);
    seqs = seqs.map((s) => {
      const out = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(code);
          i++;
        } else out.push(s[i]);
      }
      return out;
    });
  }
  return { table, coded: seqs.map((s) => String.fromCharCode(...s)) };
}

/** A coded text expanded again (what lang.ts does on the device; for the build's own check). */
function unpair(text, table) {
  const one = (c) => {
    const i = c < 10 ? c - 1 : c < 32 ? c - 2 : c - 0x81 + 30;
    return c > 0 && (c < 32 || (c >= 0x81 && c <= 0x9f)) && i * 2 < table.length ? one(table.charCodeAt(2 * i)) + one(table.charCodeAt(2 * i + 1)) : String.fromCharCode(c);
  };
  let out = '';
  for (let k = 0; k < text.length; k++) out += one(text.charCodeAt(k));
  return out;
}

exports.pairCode = pairCode;
exports.unpair = unpair;
