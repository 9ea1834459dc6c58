// Text for the trusted display. Everything the host sends is UTF-8 (as byte strings, see
// protocol/README.md); the display draws only the fixed glyph set of device/font. Here
// UTF-8 becomes font bytes, characters outside the set are either refused (fields that name
// someone or something: a look-alike must never pass as the real name) or shown escaped as
// [U+XXXX] (free text, so nothing is silently dropped), and text is measured and wrapped with
// the font's own widths.

import { FONT_FIRST, FONT_UNICODE_RANGES } from './font';

// The font's widths, one byte per glyph: the Storage file semper.fontw that the display draws
// with (tinguin.ts hands it in when it loads the font, at boot). Not a copy in the code: the
// Pico's Storage has no room for the same 226 bytes twice. Tests in Node hand in font.ts's
// FONT_WIDTHS, from which tools/build.mjs writes that file.
let widths = '';

export function useFontWidths(w: string): void {
  widths = w;
}

/** Width in pixels of a font byte; 0 when the font has no glyph for it. */
export function glyphWidth(code: number): number {
  if (code < FONT_FIRST || code > 255) return 0;
  return widths.charCodeAt(code - FONT_FIRST) || 0;
}

/** The font byte for a Unicode code point, or -1 if it cannot be drawn. */
export function glyphFor(cp: number): number {
  for (let i = 0; i < FONT_UNICODE_RANGES.length; i += 3) {
    if (cp >= FONT_UNICODE_RANGES[i] && cp <= FONT_UNICODE_RANGES[i + 1]) {
      const b = FONT_UNICODE_RANGES[i + 2] + cp - FONT_UNICODE_RANGES[i];
      return glyphWidth(b) ? b : -1;
    }
  }
  return -1;
}

const HEX = '0123456789ABCDEF';

/** The continuation mark (font byte 0x7F): ends a line where a word was cut. */
export const CONTINUED = 0x7f;

/** A code point in hex as Unicode writes it: at least 4 digits (U+00E4, U+1F600). */
function hex4(cp: number): string {
  let s = '';
  for (let n = 0; n < 4 || cp > 0; n++) {
    s = HEX.charAt(cp & 15) + s;
    cp = cp >> 4;
  }
  return s;
}

/** The code points of a UTF-8 byte string (already validated by the CBOR decoder). */
function codePoints(utf8: string): number[] {
  const cps: number[] = [];
  let i = 0;
  while (i < utf8.length) {
    const b = utf8.charCodeAt(i);
    let cp: number;
    let n: number;
    if (b < 0x80) {
      cp = b;
      n = 1;
    } else if (b < 0xe0) {
      cp = b & 0x1f;
      n = 2;
    } else if (b < 0xf0) {
      cp = b & 0x0f;
      n = 3;
    } else {
      cp = b & 0x07;
      n = 4;
    }
    for (let k = 1; k < n; k++) cp = (cp << 6) | (utf8.charCodeAt(i + k) & 0x3f);
    cps.push(cp);
    i += n;
  }
  return cps;
}

/**
 * Decodes a UTF-8 byte string into font bytes so that different texts never look the same.
 * `escape` false (names, titles, references): returns null if a character cannot be drawn
 * or a space could not be seen (leading, trailing, doubled) — the field is refused.
 * `escape` true (free text): such characters and spaces are shown as "[U+XXXX]", a literal
 * "[" as "[[" (so an escape cannot be faked), and a newline stays '\n'.
 */
export function toDisplay(utf8: string, escape: boolean): string | null {
  const cps = codePoints(utf8);
  let out = '';
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i];
    if (escape && cp === 10) {
      out += '\n';
      continue;
    }
    if (cp === 32) {
      const prev = i > 0 ? cps[i - 1] : 10;
      const next = i + 1 < cps.length ? cps[i + 1] : 10;
      if (prev !== 32 && prev !== 10 && next !== 32 && next !== 10) {
        out += ' ';
        continue;
      }
      if (!escape) return null;
      out += '[U+0020]';
      continue;
    }
    const g = glyphFor(cp);
    if (g >= 0 && !(escape && cp === 91)) out += String.fromCharCode(g);
    else if (escape && cp === 91) out += '[[';
    else if (escape) out += '[U+' + hex4(cp) + ']';
    else return null;
  }
  return out;
}

/** Font bytes back to UTF-8 (a byte string), for text that also goes to the host (STATUS labels). */
export function utf8Of(font: string): string {
  let out = '';
  for (let i = 0; i < font.length; i++) {
    const b = font.charCodeAt(i);
    let cp = b;
    for (let r = 0; r < FONT_UNICODE_RANGES.length; r += 3) {
      const first = FONT_UNICODE_RANGES[r + 2];
      if (b >= first && b <= first + FONT_UNICODE_RANGES[r + 1] - FONT_UNICODE_RANGES[r]) cp = FONT_UNICODE_RANGES[r] + b - first;
    }
    if (cp < 0x80) out += String.fromCharCode(cp);
    else if (cp < 0x800) out += String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else out += String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return out;
}

/** Width in pixels of a line of font bytes. */
export function textWidth(s: string): number {
  let w = 0;
  for (let i = 0; i < s.length; i++) w += glyphWidth(s.charCodeAt(i));
  return w;
}

/**
 * Breaks font-byte text into lines no wider than `width` pixels: at newlines, at spaces
 * (the space is dropped at a break), and inside words longer than a line (marked with the
 * continuation glyph). No character is dropped but the spaces and newlines where lines break.
 */
export function wrap(s: string, width: number): string[] {
  const lines: string[] = [];
  const paras = s.split('\n');
  for (let p = 0; p < paras.length; p++) {
    const words = paras[p].split(' ');
    let line = '';
    let lw = 0;
    const space = glyphWidth(32);
    for (let k = 0; k < words.length; k++) {
      let word = words[k];
      let ww = textWidth(word);
      if (k > 0 && lw + space + ww <= width) {
        line += ' ' + word;
        lw += space + ww;
        continue;
      }
      if (k > 0) lines.push(line);
      // a word wider than the line is cut where it reaches the edge, and the cut is marked
      // (CONTINUED, a glyph no text maps to): "AAAA" cut and "AA AA" broken never look alike
      const mark = glyphWidth(CONTINUED);
      while (ww > width) {
        let cut = 0;
        let cw = 0;
        while (cut < word.length && cw + glyphWidth(word.charCodeAt(cut)) + mark <= width) cw += glyphWidth(word.charCodeAt(cut++));
        if (cut === 0) cut = 1;
        lines.push(word.substr(0, cut) + String.fromCharCode(CONTINUED));
        word = word.substr(cut);
        ww = textWidth(word);
      }
      line = word;
      lw = ww;
    }
    lines.push(line);
  }
  return lines;
}
