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
  const text = dev.screenBraille().split('\n');
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

describe('the card slot as wired', () => {
  // A reader in the bundle: power the card (VCC low-active), pulse RST, collect the line.
  const READER = `
    var C = ${JSON.stringify(pinmap.card)};
    var rx = [];
    Serial2.setup(C.uart.baud, { tx: C.uart.tx, rx: C.uart.rx, parity: 'e', stopbits: 2 });
    Serial2.on('data', function (d) { for (var i = 0; i < d.length; i++) rx.push(d.charCodeAt(i)); });
    pinMode(C.detect.pin, 'input_pullup');
    pinMode(C.vcc.pin, 'output'); pinMode(C.rst.pin, 'output');
    digitalWrite(C.vcc.pin, 1); digitalWrite(C.rst.pin, 0);
    global_rx = rx;
    global_power = function () { digitalWrite(C.vcc.pin, 0); digitalWrite(C.rst.pin, 1); };
    global_send = function (bytes) { Serial2.write(bytes); };
    global_present = function () { return digitalRead(C.detect.pin) === C.detect.inserted; };
  `;
  type Ctx = { global_rx: number[]; global_power: () => void; global_send: (b: number[]) => void; global_present: () => boolean };
  const settle = () => new Promise((r) => setTimeout(r, 20));

  test('detect switch, ATR on reset, and a T=1 SELECT answered 90 00 (with the line echo)', async () => {
    const { personalise } = await import('../../board/card/personalise');
    const { EmulatedCard } = await import('../../board/card/card');
    const { encodeBlock, iBlock, parseBlock, isBlock } = await import('../../board/card/t1');
    const { encodeCommand, parseResponse } = await import('../../board/card/apdu');
    const { AID } = await import('../../board/card/applet');
    const dev = new EmulatedDevice({ firmware: READER, onConsole: () => {} });
    dev.powerOn();
    const ctx = dev.sandbox.context as unknown as Ctx;
    expect(ctx.global_present()).toBe(false);
    const made = personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 500 });
    const card = new EmulatedCard(made.nv);
    dev.insertCard(card);
    expect(ctx.global_present()).toBe(true);
    ctx.global_power();
    await settle();
    expect(ctx.global_rx.slice(0, card.atr.length)).toEqual([...card.atr]);
    ctx.global_rx.length = 0;
    const block = encodeBlock(iBlock(0, false, encodeCommand({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: AID })));
    ctx.global_send([...block]);
    await settle();
    // first the echo of what the reader sent, then the card's I-block
    expect(ctx.global_rx.slice(0, block.length)).toEqual([...block]);
    const answer = parseBlock(Uint8Array.from(ctx.global_rx.slice(block.length)));
    expect(isBlock(answer) && answer.kind === 'I' ? parseResponse(answer.inf).sw : -1).toBe(0x9000);
    dev.removeCard();
    expect(ctx.global_present()).toBe(false);
    expect(dev.sandbox.uncaught).toEqual([]);
    dev.powerOff();
  });

  test('no card, or no power: the reader hears only its own echo', async () => {
    const dev = new EmulatedDevice({ firmware: READER, onConsole: () => {} });
    dev.powerOn();
    const ctx = dev.sandbox.context as unknown as Ctx;
    ctx.global_power();
    ctx.global_send([0x00, 0x00, 0x00]);
    await settle();
    expect([...ctx.global_rx]).toEqual([0, 0, 0]);
    dev.powerOff();
  });
});
