// Text in custom bitmap fonts, drawn as Espruino 2v29 draws it: 60 cases measured on the real
// interpreter (test/vectors/espruino-text) replayed byte for byte, and the API's edges.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { EmulatedGraphics, graphicsGlobal } from '../../board/emulator/graphics';

interface Case {
  w: number;
  h: number;
  opts: Record<string, unknown>;
  font: { bitmap: number[]; first: number; widths: number | number[]; height: number };
  ops: { align: [number, number] | null; color: number; bg: number; s: string; x: number; y: number; solid: boolean }[];
  expect: { hex: string; stringWidth: number; fontHeight: number; metrics: Record<string, unknown> };
}

const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '../vectors/espruino-text/cases.json'), 'utf8')) as { cases: Case[] };
const make = (w: number, h: number, o = {}): EmulatedGraphics =>
  (graphicsGlobal((n) => new Uint8Array(n)).Graphics as { createArrayBuffer: (...a: unknown[]) => EmulatedGraphics }).createArrayBuffer(w, h, 1, o);
const str = (a: number[]): string => String.fromCharCode(...a);
const hex = (g: EmulatedGraphics): string => Buffer.from(new Uint8Array(g.buffer)).toString('hex');

test('the measured cases cover ink, clipping and empty results', () => {
  expect(vectors.cases).toHaveLength(60);
  const drawn = vectors.cases.filter((c) => /[^0]/.test(c.expect.hex)).length;
  expect(drawn).toBeGreaterThan(30);
  expect(vectors.cases.some((c) => c.ops.some((o) => o.s.includes('\n')))).toBe(true);
  expect(vectors.cases.some((c) => c.font.height >> 8 === 2)).toBe(true);
});

test.each(vectors.cases.map((c, i) => [i, c] as const))('case %i draws what Espruino 2v29 drew', (_i, c) => {
  const g = make(c.w, c.h, c.opts);
  g.setFontCustom(str(c.font.bitmap), c.font.first, typeof c.font.widths === 'number' ? c.font.widths : str(c.font.widths), c.font.height);
  for (const op of c.ops) {
    if (op.align) g.setFontAlign(op.align[0], op.align[1]);
    g.setColor(op.color).setBgColor(op.bg).drawString(op.s, op.x, op.y, op.solid);
  }
  expect(hex(g)).toBe(c.expect.hex);
  expect(g.stringWidth(c.ops[0].s)).toBe(c.expect.stringWidth);
  expect(g.getFontHeight()).toBe(c.expect.fontHeight);
  expect(g.stringMetrics(c.ops[0].s)).toEqual(c.expect.metrics);
});

test('a glyph is read column first, MSB first, and advances by its width', () => {
  // two glyphs 'A' (2 columns: 0b1111_0000, 0b0000_1111) and 'B' (1 column: all ink), height 8
  const g = make(8, 8).setFontCustom('\xf0\x0f\xff', 65, '\x02\x01', 8);
  g.drawString('AB', 0, 0);
  const col = (x: number): number => [0, 1, 2, 3, 4, 5, 6, 7].reduce((v, y) => v | (g.getPixel(x, y) << (7 - y)), 0);
  expect([col(0), col(1), col(2), col(3)]).toEqual([0xf0, 0x0f, 0xff, 0]);
  expect(g.stringWidth('AB\nA')).toBe(3);
  expect(g.stringMetrics('AB\nA')).toMatchObject({ width: 3, height: 16, unrenderableChars: false });
  expect(g.stringMetrics('A@').unrenderableChars).toBe(true); // '@' is below the first character
  // past the end of the widths string 2v29 measures 255 but draws nothing: a font should give
  // every code up to 255 a width (the firmware's does)
  expect(g.stringWidth('C')).toBe(255);
  expect(hex(make(8, 8).setFontCustom('\xff', 65, '\x01', 8).drawString('BA', 0, 0))).toBe('8080808080808080');
});

test('nothing starts in the last column, as in 2v29', () => {
  const g = make(8, 8).setFontCustom('\xff', 65, 1, 8);
  g.drawString('A', 7, 0).drawString('A', 6, 0);
  expect([g.getPixel(6, 0), g.getPixel(7, 0)]).toEqual([1, 0]);
});

test('bad fonts fail as Espruino fails; built-in fonts, rotation and wrapString say what to do', () => {
  const g = make(8, 8);
  expect(() => g.setFontCustom(new ArrayBuffer(2), 32, 6, 8)).toThrow('Font bitmap must be a String');
  expect(() => g.setFontCustom('x', 256, 6, 8)).toThrow('First character out of range');
  expect(() => g.setFontCustom('x', 32, [6], 8)).toThrow('Font width must be a String or an integer');
  expect(() => g.setFontCustom('x', 32, 6, 8 | (2 << 16))).toThrow('Only 1-bpp custom fonts are emulated');
  expect(() => g.setFont('6x8')).toThrow(/built-in fonts are not emulated.*setFontCustom/);
  expect(() => g.setFontAlign(0, 0, 1)).toThrow('rotation must be 0');
  expect(() => g.wrapString()).toThrow('wrap text in the firmware');
  expect(g.getFontHeight()).toBe(0);
  expect(g.drawString('A', 0, 0)).toBe(g); // no font: nothing drawn, no error
});
