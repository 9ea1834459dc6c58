// The emulated device as a whole: a bundle that uses Storage and drives the display over
// I2C runs as on the board; Storage survives a power cycle through the flash file; the
// panel can be read as PNG and text.

import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatedDevice } from '../../board/emulator/device';
import { decodePng } from '../../board/emulator/png';
import pinmap from '../../board/pinmap.json';

// A tiny "firmware": keeps a boot counter in Storage and lights the top-left 8×8 block
// of the panel through a datasheet init sequence (horizontal addressing).
const BUNDLE = `
var S = require("Storage");
var n = (S.readJSON("boot.json", 1) || { boots: 0 }).boots + 1;
S.writeJSON("boot.json", { boots: n });
I2C1.setup({ scl: B6, sda: B7, bitrate: 400000 });
var init = [0xAE, 0xD5, 0x80, 0xA8, 0x3F, 0xD3, 0x00, 0x40, 0x8D, 0x14, 0x20, 0x00, 0xA1, 0xC8, 0xDA, 0x12, 0x81, 0xCF, 0xD9, 0xF1, 0xDB, 0x40, 0xA4, 0xA6, 0xAF];
I2C1.writeTo(0x3C, [0x00].concat(init));
I2C1.writeTo(0x3C, [0x00, 0x21, 0, 127, 0x22, 0, 7]);
var fb = new Uint8Array(1024);
for (var i = 0; i < 8; i++) fb[i] = 0xFF;
for (var off = 0; off < 1024; off += 32) {
  var chunk = new Uint8Array(33); chunk[0] = 0x40; chunk.set(fb.subarray(off, off + 32), 1);
  I2C1.writeTo(0x3C, chunk);
}
`;

test('a bundle using Storage and the I2C display runs as on the board; Storage survives power cycles', () => {
  const flashFile = join(mkdtempSync(join(tmpdir(), 'flash-')), 'flash.bin');
  for (let boot = 1; boot <= 3; boot++) {
    const dev = new EmulatedDevice({ firmware: BUNDLE, flashFile, onConsole: () => {} });
    dev.powerOn();
    expect(dev.sandbox.uncaught).toEqual([]);
    expect(dev.storage.readJSON('boot.json')).toEqual({ boots: boot });
    expect(dev.display.isOn).toBe(true);
    const px = dev.display.pixels();
    // top-left 8×8 lit, nothing else
    let lit = 0;
    for (let y = 0; y < 64; y++) for (let x = 0; x < 128; x++) if (px[y * 128 + x]) lit++;
    expect(lit).toBe(64);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expect(px[y * 128 + x]).toBe(1);
    dev.powerOff();
  }
  expect(existsSync(flashFile)).toBe(true);
});

test('the panel as PNG and as braille text', () => {
  const dev = new EmulatedDevice({ firmware: BUNDLE, onConsole: () => {} });
  dev.powerOn();
  const png = decodePng(dev.screenshotPng(2));
  expect([png.width, png.height]).toEqual([128 * 2 + 4, 64 * 2 + 4]);
  const text = dev.screenText().split('\n');
  // 16 rows of 64 braille cells inside a frame; the first 4 cells of the first 2 rows are full
  expect(text).toHaveLength(18);
  expect(text[1].slice(1, 5)).toBe('\u28ff'.repeat(4));
  expect(text[2].slice(1, 5)).toBe('\u28ff'.repeat(4));
  expect(text[3].slice(1, 5)).toBe('\u2800'.repeat(4));
  dev.powerOff();
});

test('the keypad is scanned through the pins as wired: a driver in the bundle sees keys pressed by name', async () => {
  // a plain scanning driver, as the firmware will have one: rows open-drain, columns pulled up
  const driver = `
    var P = ${JSON.stringify(pinmap.keypad)};
    var seen = [];
    P.rows.forEach(function (r) { pinMode(r, 'opendrain'); digitalWrite(r, 1); });
    P.cols.forEach(function (c) { pinMode(c, 'input_pullup'); });
    function scan() {
      for (var r = 0; r < 4; r++) {
        digitalWrite(P.rows[r], 0);
        for (var c = 0; c < 4; c++) if (!digitalRead(P.cols[c])) seen.push(P.layout[r][c]);
        digitalWrite(P.rows[r], 1);
      }
    }
    global_scan = scan; global_seen = seen;
  `;
  const dev = new EmulatedDevice({ firmware: driver, onConsole: () => {} });
  dev.powerOn();
  const ctx = dev.sandbox.context as unknown as { global_scan: () => void; global_seen: string[] };
  for (const key of ['1', 'OK', 'CANCEL', 'MENU']) {
    dev.keypad.press(key);
    ctx.global_scan();
    dev.keypad.release(key);
  }
  ctx.global_scan();
  expect([...ctx.global_seen]).toEqual(['1', 'OK', 'CANCEL', 'MENU']);
  expect(dev.sandbox.uncaught).toEqual([]);
  dev.powerOff();
});

test('Storage errors reach the firmware as its own Error objects', () => {
  const dev = new EmulatedDevice({
    firmware: 'var ok = false; try { require("Storage").write("big", new Uint8Array(60000)); } catch (e) { ok = e instanceof Error; } if (!ok) throw new Error("no Error");',
    onConsole: () => {},
  });
  dev.powerOn();
  expect(dev.sandbox.uncaught).toEqual([]);
  dev.powerOff();
});
