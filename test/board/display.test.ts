// The display side of the board emulator: the I²C bus and Espruino's I2C API
// (board/emulator/i2c.ts), the SSD1306 controller and its panel (ssd1306.ts), PNG output
// (png.ts) and terminal renderings (screen-text.ts) — and a plain-JS driver running in
// the sandbox, so typed arrays cross realms as they will with the firmware.

import vm from 'node:vm';
import { crc32, deflateSync } from 'node:zlib';
import { ErrorFactory, I2CBus, I2CDevice, flattenI2CData, i2cGlobals } from '../../board/emulator/i2c';
import { decodePng, encodePng, OLED_PALETTE } from '../../board/emulator/png';
import { Sandbox } from '../../board/emulator/sandbox';
import { toBraille, toHalfBlocks } from '../../board/emulator/screen-text';
import { HEIGHT, Ssd1306, WIDTH } from '../../board/emulator/ssd1306';

/** The usual Adafruit / Espruino-module init sequence, as in the datasheet's application note. */
const INIT = [
  0xae, 0xd5, 0x80, 0xa8, 0x3f, 0xd3, 0x00, 0x40, 0x8d, 0x14, 0x20, 0x00, 0xa1, 0xc8, 0xda, 0x12, 0x81, 0xcf, 0xd9, 0xf1, 0xdb, 0x40,
  0xa4, 0xa6, 0xaf,
];

interface Rig {
  bus: I2CBus;
  oled: Ssd1306;
  cmd: (...bytes: number[]) => void;
  data: (bytes: ArrayLike<number>) => void;
}

function rig(init = true, opts: ConstructorParameters<typeof Ssd1306>[1] = {}): Rig {
  const bus = new I2CBus();
  const oled = new Ssd1306(0x3c, opts).attachTo(bus);
  const cmd = (...bytes: number[]) => {
    expect(bus.write(0x3c, Uint8Array.from([0x00, ...bytes]))).toBe(true);
  };
  const data = (bytes: ArrayLike<number>) => {
    expect(bus.write(0x3c, Uint8Array.from([0x40, ...Array.prototype.slice.call(bytes)]))).toBe(true);
  };
  if (init) cmd(...INIT);
  return { bus, oled, cmd, data };
}

const px = (o: Ssd1306, x: number, y: number): number => o.pixels()[y * WIDTH + x];
const litCount = (p: Uint8Array): number => p.reduce((n, v) => n + v, 0);

/** The byte the viewer sees at page/column (bit n = row page*8+n), upright after the usual init. */
function seenByte(o: Ssd1306, page: number, col: number): number {
  const p = o.pixels();
  let b = 0;
  for (let n = 0; n < 8; n++) if (p[(page * 8 + n) * WIDTH + col]) b |= 1 << n;
  return b;
}

const pattern = (): Uint8Array => Uint8Array.from({ length: 1024 }, (_, i) => (i * 37 + 11) & 0xff);

/** What the panel should show for a GDDRAM image in Graphics' vertical_byte layout. */
function expectedFromFramebuffer(fb: Uint8Array): Uint8Array {
  const out = new Uint8Array(WIDTH * HEIGHT);
  for (let y = 0; y < HEIGHT; y++) for (let x = 0; x < WIDTH; x++) out[y * WIDTH + x] = (fb[(y >> 3) * WIDTH + x] >> (y & 7)) & 1;
  return out;
}

describe('SSD1306 command decoder', () => {
  test('power-on state: display off, page addressing, reset register values', () => {
    const { oled } = rig(false);
    expect(oled.isOn).toBe(false);
    expect(oled.addressingMode).toBe('page');
    expect(oled.contrast).toBe(0x7f);
    expect(oled.multiplex).toBe(63);
    expect(oled.comPins).toBe(0x12);
    expect(litCount(oled.pixels())).toBe(0);
  });

  test('the datasheet init sequence, one command at a time, each with its effect', () => {
    const { oled, cmd } = rig(false);
    const steps: [number[], () => unknown, unknown][] = [
      [[0xae], () => oled.isOn, false],
      [[0xd5, 0x80], () => oled.clock, 0x80],
      [[0xa8, 0x3f], () => oled.multiplex, 63],
      [[0xd3, 0x00], () => oled.displayOffset, 0],
      [[0x40], () => oled.startLine, 0],
      [[0x8d, 0x14], () => oled.chargePump, true],
      [[0x20, 0x00], () => oled.addressingMode, 'horizontal'],
      [[0xa1], () => oled.segmentRemap, true],
      [[0xc8], () => oled.comScanReversed, true],
      [[0xda, 0x12], () => oled.comPins, 0x12],
      [[0x81, 0xcf], () => oled.contrast, 0xcf],
      [[0xd9, 0xf1], () => oled.precharge, 0xf1],
      [[0xdb, 0x40], () => oled.vcomh, 0x40],
      [[0xa4], () => oled.entireOn, false],
      [[0xa6], () => oled.inverse, false],
      [[0xaf], () => oled.isOn, true],
    ];
    for (const [bytes, get, want] of steps) {
      cmd(...bytes);
      expect({ cmd: bytes, value: get() }).toEqual({ cmd: bytes, value: want });
      expect(oled.awaitingParameters).toBe(false);
    }
    expect(oled.unknownCommands).toEqual([]);
    expect(oled.powered).toBe(true);
  });

  test('parameters may come in separate transactions and control-byte forms (0x80 single commands)', () => {
    const a = rig(true);
    const b = rig(false);
    for (const c of INIT) b.cmd(c); // Adafruit's old driver: one transaction per byte, parameters too
    const c = rig(false);
    const singles: number[] = [];
    for (const x of INIT) singles.push(0x80, x); // Co=1: control byte before every byte
    c.bus.write(0x3c, Uint8Array.from(singles));
    for (const o of [b.oled, c.oled]) {
      for (const k of ['isOn', 'clock', 'multiplex', 'chargePump', 'addressingMode', 'segmentRemap', 'comScanReversed', 'contrast', 'precharge', 'vcomh'] as const) {
        expect(o[k]).toEqual(a.oled[k]);
      }
    }
    // Co=1 then Co=0: one command, then a data stream in the same transaction
    c.bus.write(0x3c, Uint8Array.from([0x80, 0xa7, 0x40, 0xff, 0xff]));
    expect(c.oled.inverse).toBe(true);
    expect(seenByte(c.oled, 0, 0)).toBe(0x00); // 0xff written, shown inverted
  });
});

describe('SSD1306 GDDRAM and addressing', () => {
  test('horizontal addressing: 1024 bytes fill the panel page by page, column by column', () => {
    const { oled, cmd, data } = rig();
    cmd(0x21, 0, 127, 0x22, 0, 7);
    const fb = pattern();
    data(fb);
    expect(oled.pixels()).toEqual(expectedFromFramebuffer(fb));
    // the pointer wrapped to the window start: one more byte overwrites page 0, column 0
    expect([oled.page, oled.column]).toEqual([0, 0]);
    data([0x00]);
    expect(seenByte(oled, 0, 0)).toBe(0);
    expect(seenByte(oled, 0, 1)).toBe(fb[1]);
  });

  test('page addressing: B0–B7 and 00–0F/10–1F set the pointer; the page never changes, the column wraps', () => {
    const { oled, cmd, data } = rig();
    cmd(0x20, 0x02, 0xb3, 0x05, 0x12); // page 3, column 0x25
    expect(oled.addressingMode).toBe('page');
    expect([oled.page, oled.column]).toEqual([3, 37]);
    data([0xff, 0x81, 0xff]);
    expect([seenByte(oled, 3, 37), seenByte(oled, 3, 38), seenByte(oled, 3, 39)]).toEqual([0xff, 0x81, 0xff]);
    expect(litCount(oled.pixels())).toBe(18);
    cmd(0xb7, 0x0e, 0x17); // page 7, column 126
    data([0x01, 0x02, 0x04]);
    expect([seenByte(oled, 7, 126), seenByte(oled, 7, 127), seenByte(oled, 7, 0), seenByte(oled, 0, 0)]).toEqual([0x01, 0x02, 0x04, 0]);
    expect([oled.page, oled.column]).toEqual([7, 1]);
  });

  test('horizontal addressing inside a column/page window wraps within the window', () => {
    const { oled, cmd, data } = rig();
    cmd(0x21, 16, 19, 0x22, 2, 3);
    data([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const seen = [2, 3].map((p) => [16, 17, 18, 19].map((c) => seenByte(oled, p, c)));
    expect(seen).toEqual([
      [9, 10, 3, 4],
      [5, 6, 7, 8],
    ]);
    expect(litCount(oled.pixels())).toBe([9, 10, 3, 4, 5, 6, 7, 8].reduce((n, b) => n + b.toString(2).split('1').length - 1, 0));
  });

  test('vertical addressing goes down the pages first, then to the next column', () => {
    const { oled, cmd, data } = rig();
    cmd(0x20, 0x01, 0x21, 0, 1, 0x22, 0, 1);
    data([1, 2, 3, 4, 5]);
    expect([seenByte(oled, 0, 0), seenByte(oled, 1, 0), seenByte(oled, 0, 1), seenByte(oled, 1, 1)]).toEqual([5, 2, 3, 4]);
    expect([oled.page, oled.column]).toEqual([1, 0]);
  });

  test('segment remap applies to data as it is written; COM scan direction flips at once', () => {
    const { oled, cmd, data } = rig();
    cmd(0x21, 0, 127, 0x22, 0, 7);
    data([0xff]);
    expect(seenByte(oled, 0, 0)).toBe(0xff);
    cmd(0xa0); // "only affects subsequent data input"
    expect(seenByte(oled, 0, 0)).toBe(0xff);
    expect(seenByte(oled, 0, 127)).toBe(0);
    cmd(0x21, 0, 127, 0x22, 0, 7);
    data([0x0f]);
    expect(seenByte(oled, 0, 127)).toBe(0x0f); // column 0 now lands on the other edge
    cmd(0xc0); // normal scan: the image flips vertically immediately
    expect(seenByte(oled, 7, 0)).toBe(0xff);
    expect(px(oled, 127, 63)).toBe(1);
    expect(px(oled, 127, 59)).toBe(0);
    expect(px(oled, 127, 60)).toBe(1);
  });

  test('inverse, entire display on, display off and the charge pump', () => {
    const { oled, cmd, data } = rig();
    cmd(0x21, 0, 127, 0x22, 0, 7);
    data(pattern());
    const normal = oled.pixels();
    cmd(0xa7);
    expect(oled.pixels()).toEqual(normal.map((v) => v ^ 1));
    cmd(0xa6, 0xa5);
    expect(litCount(oled.pixels())).toBe(WIDTH * HEIGHT);
    cmd(0xa4);
    expect(oled.pixels()).toEqual(normal);
    cmd(0xae);
    expect(litCount(oled.pixels())).toBe(0);
    data([0xff]); // GDDRAM stays writable while off
    cmd(0xaf);
    expect(seenByte(oled, 0, 0)).toBe(0xff);
    cmd(0x8d, 0x10); // no charge pump on a module without external VCC: dark
    expect(litCount(oled.pixels())).toBe(0);
    expect(litCount(rig(true, { externalVcc: true }).oled.pixels())).toBe(0);
    const ext = rig(false, { externalVcc: true });
    ext.cmd(0x21, 0, 127, 0x22, 0, 7, 0x20, 0, 0xa1, 0xc8, 0xaf);
    ext.data([0xff]);
    expect(seenByte(ext.oled, 0, 0)).toBe(0xff);
  });

  test('start line, display offset and multiplex ratio', () => {
    const { oled, cmd, data } = rig();
    cmd(0x21, 0, 127, 0x22, 1, 1);
    data([0xff]); // page 1: rows 8–15
    expect(seenByte(oled, 1, 0)).toBe(0xff);
    cmd(0x48); // start line 8: row 8 shows on the first line
    expect(seenByte(oled, 0, 0)).toBe(0xff);
    expect(seenByte(oled, 1, 0)).toBe(0);
    cmd(0x40, 0xd3, 0x08); // offset 8 moves the image up the same way
    expect(seenByte(oled, 0, 0)).toBe(0xff);
    // 32 MUX: only COM0–31 are driven; the module has COM0 at its bottom edge and, with C8,
    // scans COM31 → COM0, so the picture's rows 0–31 fill the lower half of the glass
    cmd(0xd3, 0x00, 0xa8, 0x1f);
    expect(seenByte(oled, 4, 0)).toBe(0);
    expect(seenByte(oled, 5, 0)).toBe(0xff);
    cmd(0xa5);
    const p = oled.pixels();
    expect(litCount(p.subarray(0, 32 * WIDTH))).toBe(0);
    expect(litCount(p.subarray(32 * WIDTH))).toBe(32 * WIDTH);
  });

  test('sequential COM pin configuration interleaves the image on this module', () => {
    const { oled, cmd, data } = rig();
    cmd(0x21, 0, 0, 0x22, 0, 7);
    data([0x03, 0, 0, 0, 0x01]); // rows 0, 1 and 32 in column 0
    const litRows = () => [...Array(HEIGHT).keys()].filter((y) => px(oled, 0, y));
    expect(litRows()).toEqual([0, 1, 32]);
    // DA 02 on a panel wired for DA 12: the top half of the picture lands on even lines,
    // the bottom half on odd lines (the classic "interlaced" symptom)
    cmd(0xda, 0x02);
    expect(litRows()).toEqual([0, 1, 2]);
    expect(litCount(oled.pixels())).toBe(3);
    cmd(0xda, 0x22); // left/right remap as well swaps the banks: row 32 on line 0, rows 0 and 1 on lines 1 and 3
    expect(litRows()).toEqual([0, 1, 3]);
    cmd(0xda, 0x32); // alternative + remap: neighbouring lines swap pairwise
    expect(litRows()).toEqual([0, 1, 33]);
  });

  test('scrolling commands consume their parameters and are recorded, not animated', () => {
    const { oled, cmd } = rig();
    cmd(0x26, 0x00, 0x00, 0x00, 0x07, 0x00, 0xff, 0x2f);
    expect(oled.scrolling).toBe(true);
    expect(oled.scroll).toMatchObject({ command: 0x26, startPage: 0, endPage: 7 });
    cmd(0x2e, 0xa7);
    expect(oled.scrolling).toBe(false);
    expect(oled.inverse).toBe(true);
    expect(oled.awaitingParameters).toBe(false);
  });

  test('reset() restores register values and keeps GDDRAM', () => {
    const { oled, cmd, data } = rig();
    data([0xff]);
    const ram = Uint8Array.from(oled.gddram);
    cmd(0xa7, 0x81, 0x10);
    oled.reset();
    expect([oled.isOn, oled.inverse, oled.contrast, oled.addressingMode, oled.segmentRemap]).toEqual([false, false, 0x7f, 'page', false]);
    expect(oled.gddram).toEqual(ram);
  });

  test('a read returns the status byte (D6 = display off)', () => {
    const { bus, cmd } = rig(false);
    expect(Array.from(bus.read(0x3c, 2) ?? [])).toEqual([0x40, 0x40]);
    cmd(0xaf);
    expect(Array.from(bus.read(0x3c, 1) ?? [])).toEqual([0x00]);
  });
});

/** A device that records what it is sent and answers reads with 1, 2, 3… */
class Recorder implements I2CDevice {
  writes: { bytes: number[]; stop: boolean }[] = [];
  write(bytes: Uint8Array, stop: boolean): void {
    this.writes.push({ bytes: Array.from(bytes), stop });
  }
  read(count: number): Uint8Array {
    return Uint8Array.from({ length: count }, (_, i) => i + 1);
  }
}

interface Port {
  setup(o?: unknown): void;
  writeTo(a: unknown, ...d: unknown[]): void;
  readFrom(a: unknown, n: number): Uint8Array | undefined;
  readReg(a: number, r: number, n: number): Uint8Array | undefined;
}

function ports(opts: Parameters<typeof i2cGlobals>[2] = {}) {
  const bus = new I2CBus();
  const rec = new Recorder();
  bus.attach(0x50, rec);
  const oled = new Ssd1306().attachTo(bus);
  const g = i2cGlobals(bus, (b) => b, opts);
  return { bus, rec, oled, g, I2C1: g.I2C1 as Port, I2C2: g.I2C2 as Port, I2C: g.I2C as new () => Port };
}

function thrown(f: () => unknown): { name: string; message: string } {
  try {
    f();
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
  throw new Error('did not throw');
}

describe('I2C bus and Espruino I2C API', () => {
  test('I2C1–I2C3 are instances of I2C; setup validates the bitrate', () => {
    const { g, I2C1 } = ports();
    const I2C = g.I2C as new () => Port;
    expect(g.I2C1).toBeInstanceOf(I2C);
    expect(g.I2C3).toBeInstanceOf(I2C);
    expect(new I2C()).toBeInstanceOf(I2C);
    expect(thrown(() => I2C1.setup({ bitrate: 50 }))).toEqual({ name: 'Error', message: 'Invalid I2C bitrate' });
    expect(thrown(() => I2C1.setup({ scl: 'B6', speed: 1 }))).toEqual({ name: 'Error', message: 'Unknown option "speed"' });
    expect(thrown(() => I2C1.setup('B6'))).toEqual({ name: 'Error', message: 'Expecting Object or undefined, got String' });
    expect(thrown(() => I2C1.writeTo(0x3c, 0))).toEqual({ name: 'Error', message: 'I2C device not responding' }); // still not set up
    I2C1.setup({ scl: 'B6', sda: 'B7', bitrate: 400000 });
  });

  test('a write to an absent address fails as on the Pico (STM32 hardware I2C)', () => {
    const { bus, I2C1 } = ports();
    expect(thrown(() => I2C1.writeTo(0x3c, 0, 0xaf))).toEqual({ name: 'Error', message: 'I2C device not responding' }); // not set up
    I2C1.setup({ scl: 'B6', sda: 'B7' });
    expect(thrown(() => I2C1.writeTo(0x3d, 0, 0xaf))).toEqual({ name: 'InternalError', message: 'Timeout on I2C Write Transmit Mode 2' });
    expect(thrown(() => I2C1.readFrom(0x3d, 1))).toEqual({ name: 'InternalError', message: 'Timeout on I2C Read Receive Mode' });
    expect(bus.log.map((t) => [t.port, t.address, t.dir, t.acked])).toEqual([
      ['I2C1', 0x3d, 'write', false],
      ['I2C1', 0x3d, 'read', false],
    ]);
  });

  test('software I2C does not check ACKs: absent devices are silent, reads give 0xFF', () => {
    const { bus, oled, I2C } = ports();
    const soft = new I2C();
    soft.writeTo(0x3c, 0, 0xaf); // no pins yet: nothing happens
    expect(bus.log).toHaveLength(0);
    soft.setup({ scl: 'B8', sda: 'B9' });
    soft.writeTo(0x3d, 0, 0xaf);
    expect(Array.from(soft.readFrom(0x3d, 2) ?? [])).toEqual([0xff, 0xff]);
    soft.writeTo(0x3c, 0, 0xaf);
    expect(oled.isOn).toBe(true);
    expect(bus.log.at(-1)).toMatchObject({ port: 'software', address: 0x3c, acked: true });
  });

  test('ports not wired to the bus reach nobody', () => {
    const { oled, I2C1, I2C2 } = ports({ ports: ['I2C2'] });
    I2C1.setup();
    I2C2.setup();
    expect(thrown(() => I2C1.writeTo(0x3c, 0, 0xaf)).name).toBe('InternalError');
    I2C2.writeTo(0x3c, 0, 0xaf);
    expect(oled.isOn).toBe(true);
  });

  test('writeTo accepts numbers, strings, nested arrays, typed arrays, ArrayBuffers and {data,count}/{callback}', () => {
    const { bus, rec, I2C1 } = ports();
    I2C1.setup();
    I2C1.writeTo(
      0x50,
      1,
      'AB',
      [2, [3, 'C']],
      new Uint8Array([4, 5]),
      new Uint16Array([0x1234]),
      Uint8Array.from([6]).buffer,
      { data: 7, count: 3 },
      { data: [8, 9], count: 2 },
      { callback: () => [10] },
      -1,
      256.7,
      true,
    );
    expect(rec.writes).toEqual([{ bytes: [1, 65, 66, 2, 3, 67, 4, 5, 0x34, 6, 7, 7, 7, 8, 9, 8, 9, 10, 255, 0, 1], stop: true }]);
    I2C1.writeTo(0x50); // no bytes: no transaction at all
    I2C1.writeTo(0x50, []);
    expect(bus.log).toHaveLength(1);
    I2C1.writeTo({ address: 0x50, stop: false }, 0x11);
    expect(rec.writes[1]).toEqual({ bytes: [0x11], stop: false });
    expect(thrown(() => I2C1.writeTo(0x50, undefined))).toEqual({ name: 'TypeError', message: 'Expecting Number or iterable, got undefined' });
    expect(thrown(() => I2C1.writeTo(0x50, { a: 1 }))).toEqual({
      name: 'TypeError',
      message: 'If specifying an object, it must be of the form {data : ..., count : N} or {callback : fn} - got {"a":1}',
    });
    expect(rec.writes).toHaveLength(2);
    expect(Array.from(flattenI2CData([[1, 2], 'x']))).toEqual([1, 2, 120]);
  });

  test('readFrom returns a Uint8Array via toContext; readReg writes the register without STOP', () => {
    const bus = new I2CBus();
    bus.attach(0x50, new Recorder());
    const made: Uint8Array[] = [];
    const g = i2cGlobals(bus, (b) => {
      made.push(b);
      return b;
    });
    const I2C1 = g.I2C1 as Port;
    I2C1.setup();
    expect(Array.from(I2C1.readFrom(0x50, 3) ?? [])).toEqual([1, 2, 3]);
    expect(made).toHaveLength(1);
    expect(I2C1.readFrom(0x50, 0)).toBeUndefined();
    I2C1.readReg(0x50, 0x0f, 2);
    expect(bus.log.slice(-2).map((t) => [t.dir, Array.from(t.bytes), t.stop])).toEqual([
      ['write', [0x0f], false],
      ['read', [1, 2], true],
    ]);
    expect(Array.from(bus.written(0x50))).toEqual([0x0f]);
    expect(() => bus.attach(0x50, new Recorder())).toThrow(/in use/);
  });
});

describe('PNG', () => {
  const img = { width: 10, height: 7, pixels: Uint8Array.from({ length: 70 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0)) };

  test('greyscale 1-bit round trip with valid chunks', () => {
    const png = encodePng(img);
    const d = decodePng(png);
    expect([d.width, d.height, d.colorType, d.bitDepth]).toEqual([10, 7, 0, 1]);
    expect(d.chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(d.samples).toEqual(img.pixels);
  });

  test('8-bit greyscale', () => {
    const d = decodePng(encodePng(img, { bitDepth: 8 }));
    expect(d.bitDepth).toBe(8);
    expect(d.samples).toEqual(img.pixels.map((v) => v * 255));
  });

  test('palette, scale and border', () => {
    const d = decodePng(encodePng(img, { palette: OLED_PALETTE, scale: 3, border: 2 }));
    expect([d.width, d.height, d.colorType, d.bitDepth]).toEqual([34, 25, 3, 1]);
    expect(d.chunks).toEqual(['IHDR', 'PLTE', 'IDAT', 'IEND']);
    expect(d.palette).toEqual([OLED_PALETTE.off, OLED_PALETTE.on]);
    for (let y = 0; y < d.height; y++) {
      for (let x = 0; x < d.width; x++) {
        const inside = x >= 2 && y >= 2 && x < 32 && y < 23;
        const want = inside ? img.pixels[Math.floor((y - 2) / 3) * 10 + Math.floor((x - 2) / 3)] : 0;
        expect(d.samples[y * d.width + x]).toBe(want);
      }
    }
  });

  test('a corrupted chunk fails its CRC', () => {
    const png = Buffer.from(encodePng(img));
    png[8 + 8 + 2] ^= 1; // inside IHDR's data
    expect(() => decodePng(png)).toThrow(/bad CRC in chunk IHDR/);
    expect(() => decodePng(Buffer.from('not a png'))).toThrow(/not a PNG/);
  });

  test('the decoder undoes all five filter types', () => {
    // a 4×5 8-bit greyscale image, each row filtered differently (0 None … 4 Paeth)
    const w = 4;
    const rows = [
      [10, 20, 30, 40],
      [50, 40, 30, 200],
      [0, 255, 7, 9],
      [100, 101, 99, 3],
      [1, 2, 250, 251],
    ];
    const raw: number[] = [];
    let prev = [0, 0, 0, 0];
    rows.forEach((row, f) => {
      raw.push(f);
      for (let i = 0; i < w; i++) {
        const a = i > 0 ? row[i - 1] : 0;
        const b = prev[i];
        const c = i > 0 ? prev[i - 1] : 0;
        const p = a + b - c;
        const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
        const pred = [0, a, b, (a + b) >> 1, paeth][f];
        raw.push((row[i] - pred) & 0xff);
      }
      prev = row;
    });
    const base = encodePng({ width: w, height: 5, pixels: new Uint8Array(20) }, { bitDepth: 8 });
    const d0 = decodePng(base);
    expect(d0.width).toBe(4);
    // rebuild the file with our IDAT
    const ihdrEnd = 8 + 12 + 13;
    const idat = deflateSync(Uint8Array.from(raw));
    const head = Buffer.alloc(8);
    head.writeUInt32BE(idat.length, 0);
    head.write('IDAT', 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), idat])) >>> 0, 0);
    const iend = base.subarray(base.length - 12);
    const file = Buffer.concat([base.subarray(0, ihdrEnd), head, idat, crc, iend]);
    expect(Array.from(decodePng(file).samples)).toEqual(rows.flat());
  });
});


describe('terminal renderings', () => {
  // 4×8: lit at (0,0) (1,1) (0,3) (1,3) (2,4) (3,7)
  const small = { width: 4, height: 8, pixels: new Uint8Array(32) };
  for (const [x, y] of [
    [0, 0],
    [1, 1],
    [0, 3],
    [1, 3],
    [2, 4],
    [3, 7],
  ]) {
    small.pixels[y * 4 + x] = 1;
  }

  test('braille: 2×4 pixels per character', () => {
    expect(toBraille(small)).toBe('\u28d1\u2800\n\u2800\u2881');
    expect(toBraille(small, { frame: true })).toBe('┌──┐\n│⣑⠀│\n│⠀⢁│\n└──┘');
    expect(toBraille(small, { invert: true }).split('\n')[0]).toBe(String.fromCharCode(0x28ff - 0xd1, 0x28ff));
  });

  test('half blocks: 1×2 pixels per character', () => {
    expect(toHalfBlocks(small)).toBe('▀▄  \n▄▄  \n  ▀ \n   ▄');
    expect(toHalfBlocks(small, { frame: 'OLED' })).toBe('┌────┐\n│▀▄  │\n│▄▄  │\n│  ▀ │\n│   ▄│\n└────┘'); // no room for the title
  });

  test('the 128×64 panel is 64×16 braille or 128×32 half-block characters', () => {
    const { oled, cmd, data } = rig();
    cmd(0x21, 0, 127, 0x22, 0, 0);
    data(new Uint8Array(128).fill(0xff)); // page 0: the top 8 rows
    const img = oled.image();
    const b = toBraille(img).split('\n');
    expect(b).toHaveLength(16);
    expect(b.every((l) => l.length === 64)).toBe(true);
    expect(b[0]).toBe('⣿'.repeat(64));
    expect(b[2]).toBe('⠀'.repeat(64));
    const h = toHalfBlocks(img, { frame: 'SSD1306' }).split('\n');
    expect(h).toHaveLength(34);
    expect(h[0]).toBe('┌─ SSD1306 ' + '─'.repeat(128 - 10) + '┐');
    expect(h[1]).toBe('│' + '█'.repeat(128) + '│');
    expect(h[5]).toBe('│' + ' '.repeat(128) + '│');
  });
});

describe('a plain-JS driver in the sandbox', () => {
  const running: Sandbox[] = [];
  afterEach(() => {
    for (const sb of running.splice(0)) sb.stop();
  });

  test('init sequence and a hand-made framebuffer reach the panel across realms', () => {
    const sb = new Sandbox({ onConsole: () => {} });
    running.push(sb);
    const bus = new I2CBus();
    const oled = new Ssd1306().attachTo(bus);
    const makeError = vm.runInContext(
      '(function (n, m) { var e = n === "TypeError" ? new TypeError(m) : new Error(m); if (n === "InternalError") e.name = n; return e; })',
      sb.context,
    ) as ErrorFactory;
    Object.assign(sb.context, i2cGlobals(bus, (b) => sb.inContext(b), { makeError }));
    sb.run(`
      var OLED = 0x3C;
      I2C1.setup({ scl: 'B6', sda: 'B7', bitrate: 400000 });
      var init = [${INIT.join(', ')}];
      I2C1.writeTo(OLED, 0, init);
      I2C1.writeTo(OLED, 0, [0x21, 0, 127, 0x22, 0, 7]);
      var fb = new Uint8Array(1024);
      for (var i = 0; i < 1024; i++) fb[i] = (i * 37 + 11) & 255;
      var chunk = new Uint8Array(17);
      chunk[0] = 0x40;
      for (var p = 0; p < 1024; p += 16) {
        chunk.set(fb.subarray(p, p + 16), 1);
        I2C1.writeTo(OLED, chunk);
      }
      var st = I2C1.readFrom(OLED, 1);
      var result = { u8: st instanceof Uint8Array, status: st[0] };
      try { I2C1.writeTo(0x3D, 0); } catch (e) { result.err = String(e); result.isError = e instanceof Error; }
    `);
    expect(sb.uncaught).toEqual([]);
    const result = vm.runInContext('JSON.stringify(result)', sb.context) as string;
    expect(JSON.parse(result)).toEqual({ u8: true, status: 0, err: 'InternalError: Timeout on I2C Write Transmit Mode 2', isError: true });
    expect(oled.pixels()).toEqual(expectedFromFramebuffer(pattern()));
    expect(bus.log.filter((t) => t.address === 0x3c && t.dir === 'write')).toHaveLength(2 + 64);
  });
});
