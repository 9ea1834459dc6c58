'use strict';
// Pretokenised code for Espruino 2v29: the same program in fewer bytes of flash.
//
// Espruino's lexer (src/jslex.c, jslGetNextToken) reads a byte of 128 or more outside a string
// as a token in its own right: each reserved word and each operator of two or more characters
// has a one-byte code (the LEX_TYPES enum of src/jslex.h, whose order Espruino keeps fixed for
// this purpose), and four codes carry a value in the bytes after them — a string (0xD1 length,
// 0xD2 length-lo length-hi, then the bytes, no escapes) and an integer (0xD3 = 0, 0xD4 int8,
// 0xD5 int16 lo hi). Every build, including one that cannot pretokenise itself
// (ESPR_NO_PRETOKENISE), executes such code; the Web IDE and the Bangle.js app loader store apps
// this way. This file is our own implementation written from that lexer: pretokenise() turns
// the firmware's .bootcde text into those bytes, lex() is the lexer itself (text and token
// bytes), and the result is accepted only if lex() reads exactly the same token stream — kind
// and value of every token — from both. detokenise() prints pretokenised bytes back as text.
//
// What stays text: identifiers, floats (1e3 is a float to Espruino, not an integer), regular
// expressions, template literals with ${…}, strings with \u escapes or escapes whose meaning
// differs between Espruino and JavaScript (a \u escape is one byte on the Pico's build and
// UTF-8 on a Unicode build: as text it means what it meant before), and numbers that are not
// shorter as tokens. Whitespace and newlines go (Espruino's lexer skips them; it has no
// automatic semicolon insertion), except where two text tokens would run together.

/** The token codes of Espruino 2v29 (src/jslex.h LEX_TYPES). */
const LEX = {
  EOF: 0,
  ID: 128,
  INT: 129,
  FLOAT: 130,
  STR: 131,
  UNFINISHED_STR: 132,
  TEMPLATE_LITERAL: 133,
  UNFINISHED_TEMPLATE_LITERAL: 134,
  REGEX: 135,
  UNFINISHED_REGEX: 136,
  UNFINISHED_COMMENT: 137,
  NULLISH: 208,
  RAW_STRING8: 209,
  RAW_STRING16: 210,
  RAW_INT0: 211,
  RAW_INT8: 212,
  RAW_INT16: 213,
};
/** Multi-character operators from 138 (_LEX_TOKENS_START), then `=>`. */
const OPERATORS1 = ['==', '===', '!=', '!==', '<=', '<<', '<<=', '>=', '>>', '>>>', '>>=', '>>>=', '+=', '-=', '++', '--', '*=', '/=', '%=', '&=', '&&', '|=', '||', '^=', '=>'];
/** Reserved words from 163 (_LEX_R_LIST_START) to 198 (_LEX_R_LIST_END). */
const RESERVED = ['if', 'else', 'do', 'while', 'for', 'break', 'continue', 'function', 'return', 'var', 'let', 'const', 'this', 'throw', 'try', 'catch', 'finally', 'true', 'false', 'null', 'undefined', 'new', 'in', 'instanceof', 'switch', 'case', 'default', 'delete', 'typeof', 'void', 'debugger', 'class', 'extends', 'super', 'static', 'of'];
const TOKENS_START = 138;
const R_LIST_START = TOKENS_START + OPERATORS1.length;
const TOKENS_END = LEX.NULLISH;
/** Text of each one-byte token code (jslReservedWordAsString). */
const TOKEN_TEXT = new Map([...OPERATORS1.map((s, i) => [TOKENS_START + i, s]), ...RESERVED.map((s, i) => [R_LIST_START + i, s]), [LEX.NULLISH, '??']]);
const CODE_OF = new Map([...TOKEN_TEXT].map(([c, s]) => [s, c]));
if (CODE_OF.get('of') !== 198 || R_LIST_START + RESERVED.length - 1 !== 198 || CODE_OF.get('=>') !== 162) throw new Error('pretokenise: token table out of step with src/jslex.h');

const isAlpha = (c) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isDigit = (c) => c >= 48 && c <= 57;
const isHex = (c) => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const isWhite = (c) => c === 32 || (c >= 9 && c <= 13);

/**
 * One token as Espruino's lexer reads it: `tk` its code (a character code for one-character
 * tokens), `value` what the parser gets from it (identifier, string bytes, integer value,
 * number/regex/template text), `start`/`end` its bytes in the source.
 * @typedef {{ tk: number, value?: string | number, start: number, end: number, raw?: boolean }} Token
 */

/**
 * Espruino 2v29's lexer (jslGetNextToken and what it calls) over `src`, a byte string (one
 * char per byte): text and pretokenised bytes alike. Strings are read the way the Pico's build
 * reads them (no Unicode: a \u escape keeps the low byte of its code point).
 * @param {string} src
 * @returns {Token[]}
 */
function lex(src) {
  const out = [];
  let i = 0;
  const at = (k) => (k < src.length ? src.charCodeAt(k) : 0);
  let last = LEX.EOF;
  for (;;) {
    // whitespace and comments (jslSkipWhiteSpace)
    for (;;) {
      while (isWhite(at(i))) i++;
      if (at(i) === 47 && at(i + 1) === 47) {
        while (at(i) && at(i) !== 10) i++;
        i++;
        continue;
      }
      if (at(i) === 47 && at(i + 1) === 42) {
        i += 2;
        while (at(i) && !(at(i) === 42 && at(i + 1) === 47)) i++;
        if (!at(i)) throw new Error('unfinished comment');
        i += 2;
        continue;
      }
      break;
    }
    const start = i;
    const c = at(i);
    if (!c) break;
    const push = (tk, value, raw) => {
      const t = { tk, start, end: i };
      if (value !== undefined) t.value = value;
      if (raw) t.raw = true;
      out.push(t);
      last = tk;
    };
    if (c > 124 || c < 33 || c === 35 || c === 40 || c === 41 || c === 44 || c === 58 || c === 59 || c === 64 || c === 91 || c === 92 || c === 93 || c === 123) {
      // a single character, or a pretokenised byte
      i++;
      if (c === LEX.RAW_STRING8 || c === LEX.RAW_STRING16) {
        let n = at(i++);
        if (c === LEX.RAW_STRING16) n |= at(i++) << 8;
        if (i + n > src.length) throw new Error(`raw string at ${start} runs past the end`);
        const s = src.slice(i, i + n);
        i += n;
        push(LEX.STR, s, true);
      } else if (c === LEX.RAW_INT0) push(LEX.INT, 0, true);
      else if (c === LEX.RAW_INT8) {
        const v = at(i++);
        push(LEX.INT, v > 127 ? v - 256 : v, true);
      } else if (c === LEX.RAW_INT16) {
        const v = at(i) | (at(i + 1) << 8);
        i += 2;
        push(LEX.INT, v > 32767 ? v - 65536 : v, true);
      } else if (c >= 128 && !TOKEN_TEXT.has(c)) throw new Error(`byte 0x${c.toString(16)} at ${start} is no token of Espruino 2v29`);
      else push(c);
      continue;
    }
    if (isAlpha(c) || c === 36) {
      while (isAlpha(at(i)) || isDigit(at(i)) || at(i) === 36) i++;
      const word = src.slice(start, i);
      const code = RESERVED.includes(word) ? CODE_OF.get(word) : undefined;
      if (code !== undefined) push(code);
      else push(LEX.ID, word);
      continue;
    }
    if (isDigit(c) || c === 46) {
      let tk = LEX.INT;
      let canBeFloating = true;
      if (c === 46) {
        i++;
        if (!isDigit(at(i))) {
          push(46);
          continue;
        }
        tk = LEX.FLOAT;
      } else {
        if (c === 48) {
          i++;
          const x = at(i) | 32;
          if (x === 120 || x === 98 || x === 111) {
            canBeFloating = false;
            i++;
          }
        }
        while (isDigit(at(i)) || (!canBeFloating && isHex(at(i))) || at(i) === 95) i++;
        if (canBeFloating && at(i) === 46) {
          tk = LEX.FLOAT;
          i++;
        }
      }
      if (tk === LEX.FLOAT) while (isDigit(at(i)) || at(i) === 95) i++;
      if (canBeFloating && (at(i) | 32) === 101) {
        tk = LEX.FLOAT;
        i++;
        if (at(i) === 45 || at(i) === 43) i++;
        while (isDigit(at(i)) || at(i) === 95) i++;
      }
      const text = src.slice(start, i).replace(/_/g, '');
      push(tk, tk === LEX.INT ? intValue(text) : text);
      continue;
    }
    if (c === 34 || c === 39 || c === 96) {
      const r = lexString(src, i);
      i = r.end;
      push(r.tk, r.value);
      continue;
    }
    if (c === 47) {
      const regex =
        last === LEX.EOF ||
        (last >= TOKENS_START && last <= TOKENS_END && ![CODE_OF.get('true'), CODE_OF.get('false'), CODE_OF.get('null'), CODE_OF.get('undefined')].includes(last)) ||
        '!%&*+-/<=>?[{}(,;:'.includes(String.fromCharCode(last));
      if (regex) {
        i++;
        while (at(i) && at(i) !== 47) {
          if (at(i) === 92) i++;
          else if (at(i) === 10) break;
          i++;
        }
        if (at(i) !== 47) throw new Error(`unfinished regular expression at ${start}`);
        i++;
        while ('gimyu'.includes(String.fromCharCode(at(i))) && at(i)) i++;
        push(LEX.REGEX, src.slice(start, i));
        continue;
      }
    }
    // operators: the longest of OPERATORS1 and ?? that the lexer's branches build
    let op = String.fromCharCode(c);
    i++;
    for (;;) {
      const longer = op + String.fromCharCode(at(i));
      // the lexer never makes `>>>` then `=`-less variants beyond these, and `=>` only from `=`
      if (at(i) && (CODE_OF.has(longer) || longer === '>>>') && !(op === '=>' || op === '===' || op === '!==')) {
        op = longer;
        i++;
      } else break;
    }
    push(op.length === 1 ? c : CODE_OF.get(op));
  }
  return out;
}

/** stringToInt for the forms esbuild writes (decimal, 0x, 0b, 0o; Espruino ignores `_`). */
function intValue(text) {
  const t = text.toLowerCase();
  if (t.startsWith('0x')) return parseInt(t.slice(2), 16);
  if (t.startsWith('0b')) return parseInt(t.slice(2), 2);
  if (t.startsWith('0o')) return parseInt(t.slice(2), 8);
  return parseInt(t, 10);
}

/**
 * A quoted string from `from` (jslLexString, the Pico's build: no Unicode): its value as a
 * byte string, and `safe` when every escape in it means the same on every Espruino build and
 * in JavaScript (then it may be stored raw).
 */
function lexString(src, from) {
  const at = (k) => (k < src.length ? src.charCodeAt(k) : 0);
  const delim = at(from);
  let i = from + 1;
  let value = '';
  let lastCh = delim;
  let nesting = 0;
  let hasTemplate = false;
  let safe = true;
  while (at(i) && (at(i) !== delim || nesting)) {
    if (delim === 96) {
      if ((lastCh === 36 || nesting) && at(i) === 123) {
        nesting++;
        hasTemplate = true;
      } else if (nesting && at(i) === 125) nesting--;
    }
    if (nesting === 0 && at(i) === 92) {
      i++;
      const e = at(i);
      let ch;
      const simple = { 110: 10, 98: 8, 102: 12, 114: 13, 116: 9, 118: 11 }[e];
      if (simple !== undefined) {
        ch = simple;
        i++;
      } else if (e === 120 || e === 117) {
        i++;
        const len = e === 117 ? 4 : 2;
        const hex = src.slice(i, i + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) throw new Error(`invalid escape at ${i}`);
        i += len;
        ch = parseInt(hex, 16) & 255;
        if (e === 117) safe = false;
      } else if (e >= 48 && e <= 55) {
        let digits = '';
        while (digits.length < 3 && at(i) >= 48 && at(i) <= 55) digits += src[i++];
        ch = parseInt(digits, 8) & 255;
        // JavaScript reads \0 alone as NUL; other octal escapes are not allowed everywhere
        if (digits !== '0') safe = false;
      } else {
        // anything else passes through (\\ \" \' \`); a line continuation would differ from JS
        if (e === 10 || e === 13) safe = false;
        ch = e;
        i++;
      }
      lastCh = ch;
      value += String.fromCharCode(ch);
    } else if (at(i) === 10 && delim !== 96) break;
    else {
      if (at(i) >= 128) safe = false;
      value += src[i];
      lastCh = at(i);
      i++;
    }
  }
  if (at(i) !== delim) throw new Error(`unfinished string at ${from}`);
  i++;
  if (delim === 96 && hasTemplate) return { tk: LEX.TEMPLATE_LITERAL, value: src.slice(from + 1, i - 1), end: i, safe: false };
  // a template literal that the lexer reads as a plain string: only without `$` to be sure
  if (delim === 96 && value.includes('$')) safe = false;
  return { tk: LEX.STR, value, end: i, safe };
}

/** Is this token text that an identifier character right after it would extend? */
const wordy = (t) => !t.raw && (t.tk === LEX.ID || t.tk === LEX.INT || t.tk === LEX.FLOAT);
/** Would these two characters, written together, start a longer operator or a comment? */
const merges = (a, b) => (a.endsWith('/') && (b === '/' || b === '*')) || [...CODE_OF.keys()].some((op) => op.startsWith(a + b));

/** Must a space separate these two tokens as written (`a` as text `aText`, then `bText`)? */
function needsSpace(a, aText, bText) {
  if (!a || a.raw) return false;
  const b0 = bText.charCodeAt(0);
  if (b0 >= 128) return false;
  if (wordy(a) && (isAlpha(b0) || isDigit(b0) || b0 === 36)) return true;
  if ((a.tk === LEX.INT || a.tk === LEX.FLOAT) && b0 === 46) return true;
  if (a.tk === LEX.REGEX && (isAlpha(b0) || isDigit(b0) || b0 === 36 || b0 === 47)) return true;
  if ((a.tk < 128 || TOKEN_TEXT.has(a.tk)) && merges(aText, bText[0])) return true;
  if (a.tk === 46 && isDigit(b0)) return true;
  return false;
}

/** An integer as a token: 0xD3, 0xD4 v, or 0xD5 lo hi (as the lexer reads them). */
function rawInt(v) {
  if (v === 0) return String.fromCharCode(LEX.RAW_INT0);
  if (v >= -128 && v < 128) return String.fromCharCode(LEX.RAW_INT8, v & 255);
  return String.fromCharCode(LEX.RAW_INT16, v & 255, (v >> 8) & 255);
}

/** Two token streams are the same program to Espruino: same codes, same values. */
function sameTokens(a, b) {
  if (a.length !== b.length) return `${a.length} tokens against ${b.length}`;
  for (let k = 0; k < a.length; k++) {
    if (a[k].tk !== b[k].tk || a[k].value !== b[k].value) return `token ${k} differs: ${JSON.stringify(a[k])} against ${JSON.stringify(b[k])}`;
  }
  return null;
}

/**
 * `text` (a byte string of JavaScript, every byte below 128) pretokenised for Espruino 2v29,
 * as a byte string. Throws if the result would not lex to exactly the tokens of `text`.
 * @param {string} text
 * @returns {string}
 */
function pretokenise(text) {
  for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) >= 128) throw new Error(`pretokenise: byte ${text.charCodeAt(k)} at ${k}: the text must be ASCII (the bundle is built with charset ascii)`);
  const tokens = lex(text);
  let out = '';
  let prev = null;
  let prevText = '';
  for (const t of tokens) {
    const src = text.slice(t.start, t.end);
    let piece = src;
    let emitted = { tk: t.tk, raw: false };
    if (TOKEN_TEXT.has(t.tk)) {
      piece = String.fromCharCode(t.tk);
      emitted = { tk: t.tk, raw: true };
    } else if (t.tk === LEX.STR && lexString(text, t.start).safe && t.value.length > 0 && t.value.length < 65536) {
      const n = t.value.length;
      const raw = (n < 256 ? String.fromCharCode(LEX.RAW_STRING8, n) : String.fromCharCode(LEX.RAW_STRING16, n & 255, n >> 8)) + t.value;
      if (raw.length <= src.length) {
        piece = raw;
        emitted = { tk: t.tk, raw: true };
      }
    } else if (t.tk === LEX.INT && /^(0|[1-9]\d*|0[xX][0-9a-fA-F]+)$/.test(src) && t.value < 32768) {
      const raw = rawInt(t.value);
      if (raw.length < src.length) {
        piece = raw;
        emitted = { tk: t.tk, raw: true };
      }
    }
    if (needsSpace(prev, prevText, piece)) out += ' ';
    out += piece;
    prev = emitted;
    prevText = piece;
  }
  const diff = sameTokens(lex(out), tokens);
  if (diff) throw new Error(`pretokenise: the pretokenised code would lex differently (${diff})`);
  return out;
}

/**
 * `text` with esbuild's spellings of the three constants written as the words: `!0` as `true`,
 * `!1` as `false`, `void 0` as `undefined` — each a one-byte token pretokenised where the
 * minifier's forms take two or three. Rewritten token by token (never inside a string, regular
 * expression or template) and only where the operator applies to the number alone: not when a
 * `.`, `[`, `(` or template follows, which would bind to the number first (`!0[k]` is `!(0[k])`,
 * `true`, while `true[k]` is `undefined`). The values are the same to Espruino and to
 * JavaScript; `undefined` is a reserved word to Espruino and an unshadowed global in the bundle.
 * @param {string} text
 * @returns {string}
 */
function plainConstants(text) {
  const tokens = lex(text);
  let out = '';
  let from = 0;
  for (let k = 0; k + 1 < tokens.length; k++) {
    const op = tokens[k];
    const n = tokens[k + 1];
    const after = tokens[k + 2];
    if (n.tk !== LEX.INT || (after && (after.tk === 46 || after.tk === 91 || after.tk === 40 || after.tk === LEX.TEMPLATE_LITERAL || after.tk === LEX.STR))) continue;
    const num = text.slice(n.start, n.end);
    let word;
    if (op.tk === 33 && num === '0') word = 'true';
    else if (op.tk === 33 && num === '1') word = 'false';
    else if (op.tk === CODE_OF.get('void') && num === '0') word = 'undefined';
    else continue;
    // a space where the word would run into a neighbouring word or number
    const before = op.start > 0 ? text.charCodeAt(op.start - 1) : 32;
    const next = n.end < text.length ? text.charCodeAt(n.end) : 32;
    const joins = (c) => isAlpha(c) || isDigit(c) || c === 36;
    out += text.slice(from, op.start) + (joins(before) ? ' ' : '') + word + (joins(next) ? ' ' : '');
    from = n.end;
    k++;
  }
  return out + text.slice(from);
}

/** A byte string as a JavaScript string literal, ASCII only. */
const literal = (s) => '"' + s.replace(/[^\x20-\x7e]|["\\]/g, (ch) => (ch === '"' || ch === '\\' ? '\\' + ch : '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0'))) + '"';

/**
 * Pretokenised bytes printed back as JavaScript text (strings as literals with \xNN escapes,
 * integers in decimal, reserved words and operators spelled out): what the interpreter's
 * `jslPrintTokenisedString` shows, in a form Node and Espruino both run.
 * @param {string} bytes
 * @returns {string}
 */
function detokenise(bytes) {
  let out = '';
  let prev = null;
  let prevText = '';
  for (const t of lex(bytes)) {
    let piece;
    if (TOKEN_TEXT.has(t.tk)) piece = TOKEN_TEXT.get(t.tk);
    else if (t.raw && t.tk === LEX.STR) piece = literal(t.value);
    else if (t.raw && t.tk === LEX.INT) piece = String(t.value);
    else piece = bytes.slice(t.start, t.end);
    // printed, a reserved word is a word like any identifier
    const asText = { tk: TOKEN_TEXT.has(t.tk) && /^[a-z]/.test(piece) ? LEX.ID : t.tk, raw: false };
    if (needsSpace(prev, prevText, piece)) out += ' ';
    out += piece;
    prev = asText;
    prevText = piece;
  }
  return out;
}

exports.LEX = LEX;
exports.TOKEN_TEXT = TOKEN_TEXT;
exports.lex = lex;
exports.sameTokens = sameTokens;
exports.pretokenise = pretokenise;
exports.plainConstants = plainConstants;
exports.detokenise = detokenise;
