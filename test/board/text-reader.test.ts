// Reading the panel back as text with the firmware's own font (device/src/ui/font.ts): what
// is drawn is read, at scale 1 and 2, in inverse video, with gaps as spaces; text that is
// overdrawn or clipped reads as it looks.

import { EmulatedGraphics, graphicsGlobal } from '../../board/emulator/graphics';
import { readLines, readText } from '../../board/emulator/text-reader';
import type { CustomFont } from '../../board/emulator/graphics';
import { FONT_BITMAP, FONT_FIRST, FONT_HEIGHT, FONT_WIDTHS } from '../../device/src/ui/font';

const FONT: CustomFont = { bitmap: FONT_BITMAP, first: FONT_FIRST, widths: FONT_WIDTHS, height: FONT_HEIGHT, scale: 1 };
const panel = (): EmulatedGraphics =>
  (graphicsGlobal((n) => new Uint8Array(n)).Graphics as { createArrayBuffer: (...a: unknown[]) => EmulatedGraphics })
    .createArrayBuffer(128, 64, 1, { vertical_byte: true, msb: false })
    .setFontCustom(FONT_BITMAP, FONT_FIRST, FONT_WIDTHS, FONT_HEIGHT);
const image = (g: EmulatedGraphics) => {
  const pixels = new Uint8Array(128 * 64);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 128; x++) pixels[y * 128 + x] = g.getPixel(x, y);
  return { width: 128, height: 64, pixels };
};

test('every printable glyph reads back as itself', () => {
  const codes: number[] = [];
  for (let c = 33; c < 256; c++) if (FONT_WIDTHS.charCodeAt(c - FONT_FIRST)) codes.push(c);
  expect(codes.length).toBeGreaterThan(150);
  // 18 glyphs a row, one row per 8 pixels
  for (let i = 0; i < codes.length; i += 18 * 8) {
    const g = panel();
    const chunk = codes.slice(i, i + 18 * 8);
    const rows: string[] = [];
    for (let r = 0; r * 18 < chunk.length; r++) rows.push(String.fromCharCode(...chunk.slice(r * 18, r * 18 + 18)));
    rows.forEach((s, r) => g.drawString(s, 0, r * 8));
    expect(readText(image(g), [FONT])).toBe(rows.join('\n'));
  }
});

test('positions, spaces, scale 2 and inverse video', () => {
  const g = panel();
  g.setColor(1).fillRect(0, 0, 127, 9);
  g.setColor(0).drawString('2/4 Verifying', 1, 1);
  g.setColor(1).drawString('Pay to:  Shop', 0, 12);
  g.setFontCustom(FONT_BITMAP, FONT_FIRST, FONT_WIDTHS, FONT_HEIGHT | (2 << 8)).drawString('12.50 EUR', 4, 24);
  const lines = readLines(image(g), [FONT]);
  expect(lines.map((l) => [l.text, l.x, l.y, l.scale, l.inverse])).toEqual([
    ['2/4 Verifying', 1, 1, 1, true],
    ['Pay to:  Shop', 0, 12, 1, false],
    ['12.50 EUR', 4, 24, 2, false],
  ]);
  expect(readText(image(g), [FONT])).toBe('2/4 Verifying\nPay to:  Shop\n12.50 EUR');
});

test('dashes, dots and underscores are read on a line of text, and only there', () => {
  const g = panel();
  g.drawString('-- end --', 1, 10).drawString('a-b_c.d', 1, 20);
  g.drawLine(0, 40, 127, 40); // a rule is not a row of dashes or underscores
  expect(readText(image(g), [FONT])).toBe('-- end --\na-b_c.d');
});

test('what is hidden is not read: overdrawn, cleared and clipped text', () => {
  const g = panel();
  g.drawString('SECRET', 0, 0).clearRect(0, 0, 127, 7);
  g.drawString('Visible', 0, 10);
  g.drawString('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 0, 20); // runs off the right edge
  g.fillRect(0, 40, 127, 63).setColor(0).drawString('Dark', 0, 50); // inside a lit block
  const text = readText(image(g), [FONT]);
  expect(text).not.toContain('SECRET');
  expect(text.split('\n')[0]).toBe('Visible');
  expect(text.split('\n')[1]).toMatch(/^ABCDEFGHIJKLMNOPQRSTU/);
  expect(text).toContain('Dark');
  expect(readText(image(panel()), [FONT])).toBe('');
});
