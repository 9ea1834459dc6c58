#!/usr/bin/env node
// Builds device/src/ui/font.ts from the ASCII-art font device/font/semper-6x8.txt.
//
// The output is what Espruino 2v29's Graphics.setFontCustom(bitmap, firstChar, widths, height)
// takes (jswrap_graphics.c): glyphs one after another, each column by column, each column top
// row first, one bit a pixel, most significant bit first, packed without padding; widths one
// char a code from firstChar (0 = no glyph). See device/font/README.md.
//
// Plain Node, no dependencies, nothing from the project's layers.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = join(ROOT, 'device', 'font', 'semper-6x8.txt');
const OUTPUT = join(ROOT, 'device', 'src', 'ui', 'font.ts');

export const FIRST = 32;
export const LAST = 255;
export const HEIGHT = 8;
export const MAX_WIDTH = 8;

/**
 * Codes above 126 that have a glyph: 0x7F the continuation mark (drawn where the display cuts a
 * word too long for a line; no text maps to it — U+007F is outside UNICODE_RANGES — so it
 * cannot be faked), € (Windows-1252), ¢ £ ¥, Latin-1 letters but × and ÷.
 */
export const HIGH_CODES = [0x7f, 0x80, 0xa2, 0xa3, 0xa5];
for (let c = 0xc0; c <= 0xff; c++) if (c !== 0xd7 && c !== 0xf7) HIGH_CODES.push(c);

/** Glyphs that may put ink on row 7 (below the baseline). */
export const DESCENDERS = 'gjpqy,;_\u00fe\u00fd\u00ff\u00c7\u00e7';

/** Glyphs whose last (spacing) column may carry ink. None so far; add a code with a reason. */
export const INKED_LAST_COLUMN = [];

/**
 * Unicode code point -> font byte, as inclusive ranges: [from, to, firstByte, ...]. A code point
 * in a range maps to firstByte + (cp - from); it can be drawn only if that byte has a glyph.
 */
export const UNICODE_RANGES = [0x20, 0x7e, 0x20, 0xa0, 0xff, 0xa0, 0x20ac, 0x20ac, 0x80];

const USAGE = `usage: node tools/font/build-font.mjs [--source FILE] [--output FILE] [--check]
       node tools/font/build-font.mjs [--source FILE] --preview TEXT...
       node tools/font/build-font.mjs --help

Reads ${relative(ROOT, SOURCE)}, validates every glyph and writes ${relative(ROOT, OUTPUT)}.

  (no option)      validate and (re)write the generated file
  --check          validate, write nothing, exit 1 if the generated file is missing or stale
  --preview TEXT   print TEXT rendered with the font (█ = ink), one block per argument
  --source FILE    read this font source instead (for tests)
  --output FILE    write or check this file instead (for tests)
  --help           print this text

Exit status: 0 done, 1 invalid source or stale output, 2 bad arguments.
`;

/** The character a font byte stands for (Windows-1252 for 0x80, Latin-1 above 0x9F). */
export function charOf(code) {
  if (code === 0x80) return '\u20ac';
  if (code === 0x7f) return '\u21b5';
  return String.fromCharCode(code);
}

class FontError extends Error {}

/**
 * Parses the font source. Returns { glyphs: Map<code, {code, rows, line}>, bases, marks }, with
 * composed glyphs resolved; rows are strings of '#' and '.'. Throws FontError on any problem.
 */
export function parseFont(text) {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const glyphs = new Map();
  const bases = new Map();
  const marks = new Map();
  const composed = [];
  const fail = (n, msg) => {
    throw new FontError(`semper-6x8.txt:${n}: ${msg}`);
  };
  let i = 0;
  const readArt = (headerLine) => {
    const rows = [];
    while (rows.length < HEIGHT) {
      i++;
      const row = lines[i];
      if (row === undefined || !/^[#.]+$/.test(row)) {
        fail(i + 1, `expected ${HEIGHT} rows of # and . after line ${headerLine}, got ${rows.length}`);
      }
      rows.push(row);
    }
    if (lines[i + 1] !== undefined && /^[#.]+$/.test(lines[i + 1])) {
      fail(i + 2, `more than ${HEIGHT} rows after line ${headerLine}`);
    }
    const width = rows[0].length;
    rows.forEach((r, y) => {
      if (r.length !== width) fail(headerLine + 1 + y, `row is ${r.length} wide, the first row is ${width}`);
    });
    if (width > MAX_WIDTH) fail(headerLine, `glyph is ${width} wide, at most ${MAX_WIDTH}`);
    return rows;
  };
  const checkName = (n, code, name) => {
    const expected = code === 0x20 ? 'space' : charOf(code);
    if (name !== expected) fail(n, `0x${hex(code)} is ${JSON.stringify(expected)}, the header says ${JSON.stringify(name)}`);
  };
  const defineGlyph = (n, code, rows) => {
    if (glyphs.has(code)) fail(n, `0x${hex(code)} defined twice (first on line ${glyphs.get(code).line})`);
    glyphs.set(code, { code, rows, line: n });
  };
  for (; i < lines.length; i++) {
    const line = lines[i];
    const n = i + 1;
    if (line.trim() === '' || line.startsWith('//')) continue;
    let m;
    if ((m = /^0x([0-9A-F]{2}) (\S+) = (\S+) \+ (\S+)$/.exec(line))) {
      const code = parseInt(m[1], 16);
      checkName(n, code, m[2]);
      composed.push({ n, code, base: m[3], mark: m[4] });
      defineGlyph(n, code, null);
    } else if ((m = /^0x([0-9A-F]{2}) (\S+)$/.exec(line))) {
      const code = parseInt(m[1], 16);
      checkName(n, code, m[2]);
      defineGlyph(n, code, readArt(n));
    } else if ((m = /^(base|mark) ([A-Za-z][\w-]*)$/.exec(line))) {
      const table = m[1] === 'base' ? bases : marks;
      if (table.has(m[2])) fail(n, `${m[1]} ${m[2]} defined twice`);
      table.set(m[2], readArt(n));
    } else {
      fail(n, `expected a header (0xNN c, 0xNN c = BASE + MARK, base NAME, mark NAME), got ${JSON.stringify(line)}`);
    }
  }
  for (const { n, code, base, mark } of composed) {
    let baseRows;
    if (/^0x[0-9A-F]{2}$/.test(base)) {
      const g = glyphs.get(parseInt(base.slice(2), 16));
      if (!g || !g.rows) fail(n, `base ${base} is not a drawn glyph`);
      baseRows = g.rows;
    } else {
      baseRows = bases.get(base);
      if (!baseRows) fail(n, `no base ${base}`);
    }
    const markRows = marks.get(mark);
    if (!markRows) fail(n, `no mark ${mark}`);
    if (markRows[0].length !== baseRows[0].length) {
      fail(n, `mark ${mark} is ${markRows[0].length} wide, base ${base} is ${baseRows[0].length}`);
    }
    const rows = baseRows.map((r, y) => {
      let out = '';
      for (let x = 0; x < r.length; x++) {
        const a = r[x] === '#';
        const b = markRows[y][x] === '#';
        if (a && b) fail(n, `mark ${mark} overlaps base ${base} at column ${x}, row ${y}`);
        out += a || b ? '#' : '.';
      }
      return out;
    });
    glyphs.get(code).rows = rows;
  }
  return { glyphs, bases, marks };
}

/** Checks the parsed font against the code set and the metrics; throws FontError. */
export function validateFont(glyphs) {
  const problems = [];
  const expected = [];
  for (let c = FIRST; c <= 126; c++) expected.push(c);
  expected.push(...HIGH_CODES);
  for (const c of expected) if (!glyphs.has(c)) problems.push(`0x${hex(c)} ${charOf(c)}: missing`);
  for (const c of glyphs.keys()) if (!expected.includes(c)) problems.push(`0x${hex(c)}: not in the code set`);
  const seen = new Map();
  for (const { code, rows } of glyphs.values()) {
    const name = `0x${hex(code)} ${charOf(code)}`;
    const width = rows[0].length;
    const ink = rows.join('').includes('#');
    if (code === 0x20 ? ink : !ink) problems.push(`${name}: ${code === 0x20 ? 'space must be blank' : 'no ink'}`);
    if (!INKED_LAST_COLUMN.includes(code) && rows.some((r) => r[width - 1] === '#')) {
      problems.push(`${name}: the last column is the spacing column and must be blank`);
    }
    if (rows[HEIGHT - 1].includes('#') && !DESCENDERS.includes(charOf(code))) {
      problems.push(`${name}: ink on row ${HEIGHT - 1}, which only descenders (${DESCENDERS}) may use`);
    }
    const key = rows.join('/');
    if (seen.has(key)) problems.push(`${name}: same bitmap as 0x${hex(seen.get(key))} ${charOf(seen.get(key))}`);
    else seen.set(key, code);
  }
  if (problems.length) throw new FontError(`font source has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
}

/** Packs glyphs as Espruino's custom font wants them. Returns { bitmap: number[], widths: number[] }. */
export function encodeFont(glyphs) {
  const widths = [];
  const bitmap = [];
  let bit = 0;
  for (let c = FIRST; c <= LAST; c++) {
    const g = glyphs.get(c);
    widths.push(g ? g.rows[0].length : 0);
    if (!g) continue;
    for (let x = 0; x < g.rows[0].length; x++) {
      for (let y = 0; y < HEIGHT; y++) {
        if ((bit & 7) === 0) bitmap.push(0);
        if (g.rows[y][x] === '#') bitmap[bit >> 3] |= 0x80 >> (bit & 7);
        bit++;
      }
    }
  }
  return { bitmap, widths };
}

function hex(n) {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

const escape = (bytes) => bytes.map((b) => `\\x${hex(b)}`).join('');

/** The text of device/src/ui/font.ts. */
export function generate(text) {
  const { glyphs } = parseFont(text);
  validateFont(glyphs);
  const { bitmap, widths } = encodeFont(glyphs);
  const r = UNICODE_RANGES.map((n) => `0x${n.toString(16)}`);
  return `// GENERATED by tools/font/build-font.mjs from device/font/semper-6x8.txt - do not edit.
// Edit the ASCII art there and run \`node tools/font/build-font.mjs\` (see device/font/README.md).
//
// SEMPER 6x8, an original font for the trusted display, for Espruino's
// g.setFontCustom(FONT_BITMAP, FONT_FIRST, FONT_WIDTHS, FONT_HEIGHT).
// ${glyphs.size} glyphs: bytes 0x20-0x7E (ASCII), 0x80 (euro), 0xA2 0xA3 0xA5 (cent, pound, yen)
// and the Latin-1 letters 0xC0-0xFF except 0xD7 and 0xF7. This file is pure ASCII.
// Bitmap: each glyph column by column, each column top row first, MSB first (one byte a column).

/** Code of the first glyph in FONT_WIDTHS. */
export const FONT_FIRST = ${FIRST};

/** Rows per glyph (one bitmap byte per column). */
export const FONT_HEIGHT = ${HEIGHT};

/** Glyph bitmaps, ${bitmap.length} bytes. */
export const FONT_BITMAP = '${escape(bitmap)}';

/** Width in pixels of codes ${FIRST}..${LAST}, spacing column included; 0 = no glyph. */
export const FONT_WIDTHS = '${escape(widths)}';

/**
 * Unicode code point -> font byte, as inclusive ranges [from, to, firstByte, ...]: a code point
 * cp with from <= cp <= to maps to firstByte + cp - from, and can be drawn only if
 * FONT_WIDTHS has a non-zero width for that byte. Anything else cannot be drawn.
 */
export const FONT_UNICODE_RANGES = [${r.slice(0, 3).join(', ')}, ${r.slice(3, 6).join(', ')}, ${r.slice(6).join(', ')}];

/**
 * The same bitmap and widths, made only when called: the firmware writes them to Storage once
 * and draws from there (a string in flash costs no RAM; a constant in the bundle would).
 */
export function fontFiles(): [string, string] {
  return ['${escape(bitmap)}', '${escape(widths)}'];
}
`;
}

/** Renders text with the parsed glyphs, for --preview and the README. */
export function preview(glyphs, text) {
  const out = [];
  for (let y = 0; y < HEIGHT; y++) {
    let line = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0);
      let code = -1;
      for (let k = 0; k < UNICODE_RANGES.length; k += 3) {
        if (cp >= UNICODE_RANGES[k] && cp <= UNICODE_RANGES[k + 1]) code = UNICODE_RANGES[k + 2] + cp - UNICODE_RANGES[k];
      }
      const g = glyphs.get(code);
      if (!g) throw new FontError(`cannot draw ${JSON.stringify(ch)}: no glyph`);
      line += g.rows[y].replace(/#/g, '\u2588').replace(/\./g, ' ');
    }
    out.push(line.replace(/ +$/, ''));
  }
  return out.join('\n');
}

function main(argv) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let source = SOURCE;
  let output = OUTPUT;
  let check = false;
  let previews = null;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (previews) previews.push(a);
    else if (a === '--check') check = true;
    else if (a === '--preview') previews = [];
    else if ((a === '--source' || a === '--output') && k + 1 < argv.length) {
      if (a === '--source') source = argv[++k];
      else output = argv[++k];
    } else {
      process.stderr.write(`build-font: bad argument ${a}\n\n${USAGE}`);
      return 2;
    }
  }
  const text = readFileSync(source, 'utf8');
  if (previews) {
    const { glyphs } = parseFont(text);
    process.stdout.write(previews.map((t) => preview(glyphs, t)).join('\n\n') + '\n');
    return 0;
  }
  const out = generate(text);
  if (check) {
    let current = null;
    try {
      current = readFileSync(output, 'utf8');
    } catch {
      // missing: reported below
    }
    if (current !== out) {
      process.stderr.write(
        `build-font: ${relative(ROOT, output)} is ${current === null ? 'missing' : 'stale'}; run node tools/font/build-font.mjs\n`,
      );
      return 1;
    }
    process.stdout.write(`build-font: ${relative(ROOT, output)} is up to date\n`);
    return 0;
  }
  writeFileSync(output, out);
  process.stdout.write(`build-font: wrote ${relative(ROOT, output)}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof FontError)) throw e;
    process.stderr.write(`build-font: ${e.message}\n`);
    process.exitCode = 1;
  }
}
