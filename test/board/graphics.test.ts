// Graphics (without fonts) as Espruino 2v29 draws into an ArrayBuffer: bit layout, inclusive
// rectangles, Bresenham lines, clipping, images — and a buffer made with vertical_byte and
// msb:false goes to the SSD1306 unchanged.

import { EmulatedDevice } from '../../board/emulator/device';
import { EmulatedGraphics, graphicsGlobal } from '../../board/emulator/graphics';

const make = (w: number, h: number, o = {}): EmulatedGraphics =>
  (graphicsGlobal((n) => new Uint8Array(n)).Graphics as { createArrayBuffer: (...a: unknown[]) => EmulatedGraphics }).createArrayBuffer(w, h, 1, o);
const bytes = (g: EmulatedGraphics): number[] => [...new Uint8Array(g.buffer)];

test('bit layout: horizontal MSB first by default (2v25+), LSB with msb:false; vertical_byte pages', () => {
  expect(bytes(make(8, 1).setPixel(0, 0))).toEqual([0x80]);
  expect(bytes(make(8, 1, { msb: false }).setPixel(0, 0))).toEqual([0x01]);
  // vertical_byte: byte x of page y>>3; with the default msb the TOP pixel is bit 7
  expect(bytes(make(2, 8, { vertical_byte: true }).setPixel(1, 0))).toEqual([0x00, 0x80]);
  expect(bytes(make(2, 8, { vertical_byte: true, msb: false }).setPixel(1, 0))).toEqual([0x00, 0x01]);
  expect(bytes(make(1, 16, { vertical_byte: true, msb: false }).setPixel(0, 9))).toEqual([0x00, 0x02]);
  expect(() => make(8, 12, { vertical_byte: true })).toThrow('height must be a multiple of 8 when using vertical_byte');
});

test('fillRect and drawRect include both corners, in either order, clipped to the buffer', () => {
  const g = make(8, 8);
  g.fillRect(6, 6, 1, 1);
  let n = 0;
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) n += g.getPixel(x, y);
  expect(n).toBe(36);
  g.clear().fillRect(-5, -5, 100, 0);
  expect(bytes(g)[0]).toBe(0xff);
  g.clear().drawRect(0, 0, 7, 7);
  n = 0;
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) n += g.getPixel(x, y);
  expect(n).toBe(28);
  g.clear().fillRect({ x: 2, y: 2, w: 2, h: 2 });
  expect([g.getPixel(2, 2), g.getPixel(3, 3), g.getPixel(4, 4)]).toEqual([1, 1, 0]);
});

test('lines step as Espruino does (fixed point, half-pixel start); colours and clear(true)', () => {
  const g = make(8, 8);
  g.drawLine(0, 0, 7, 3);
  const lit: string[] = [];
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) if (g.getPixel(x, y)) lit.push(`${x},${y}`);
  // step = (3<<8)/7 = 109: y = (128 + 109·i) >> 8
  expect(lit).toEqual(['0,0', '1,0', '2,1', '3,1', '4,2', '5,2', '6,3', '7,3']);
  // steep and reversed: (2,7) to (0,0) is drawn from (0,0) upward, x = (128 + 73·i) >> 8
  const h = make(8, 8).drawLine(2, 7, 0, 0);
  const col: number[] = [];
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) if (h.getPixel(x, y)) col.push(x);
  expect(col).toEqual([0, 0, 1, 1, 1, 1, 2, 2]);
  g.setBgColor(1).clear();
  expect(bytes(g).every((b) => b === 0xff)).toBe(true);
  g.clear(true);
  expect(bytes(g).every((b) => b === 0)).toBe(true);
  expect(g.setColor(0.2, 0.2, 0.2).getColor()).toBe(0);
});

test('drawImage: 1-bpp MSB-first images, transparent 0 leaves the background', () => {
  const g = make(8, 2).setBgColor(0);
  g.fillRect(0, 0, 7, 1);
  g.drawImage({ width: 4, height: 2, bpp: 1, buffer: new Uint8Array([0b10010110]).buffer, transparent: 0 }, 0, 0);
  expect(bytes(g)).toEqual([0xff, 0xff]);
  g.drawImage({ width: 4, height: 2, bpp: 1, buffer: new Uint8Array([0b10010110]).buffer }, 0, 0);
  expect(bytes(g)).toEqual([0x9f, 0x6f]);
});

test('a frame drawn in the sandbox with Graphics reaches the panel through the SSD1306 unchanged', () => {
  const firmware = `
    var g = Graphics.createArrayBuffer(128, 64, 1, { vertical_byte: true, msb: false });
    g.drawRect(0, 0, 127, 63); g.fillRect(10, 10, 19, 19); g.drawLine(0, 63, 127, 0);
    I2C1.setup({ scl: B6, sda: B7 });
    I2C1.writeTo(0x3C, [0x00, 0xAE, 0x20, 0x00, 0xA1, 0xC8, 0x8D, 0x14, 0x21, 0, 127, 0x22, 0, 7, 0xAF]);
    var fb = new Uint8Array(g.buffer);
    for (var off = 0; off < 1024; off += 64) { var c = new Uint8Array(65); c[0] = 0x40; c.set(fb.subarray(off, off + 64), 1); I2C1.writeTo(0x3C, c); }
    global_g = g;
  `;
  const dev = new EmulatedDevice({ firmware, onConsole: () => {} });
  dev.powerOn();
  expect(dev.sandbox.uncaught).toEqual([]);
  const g = (dev.sandbox.context as unknown as { global_g: EmulatedGraphics }).global_g;
  const px = dev.display.pixels();
  for (let y = 0; y < 64; y++) for (let x = 0; x < 128; x++) expect([x, y, px[y * 128 + x]]).toEqual([x, y, g.getPixel(x, y)]);
  expect(px[15 * 128 + 15]).toBe(1);
  dev.powerOff();
});
