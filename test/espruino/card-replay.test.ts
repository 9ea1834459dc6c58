// bench/card-line.ts: the card's side of a payment recorded in the emulator and the harness
// that replays it on the real interpreter (npm run bench:device). Checked here without an
// interpreter: the recording of a real purse payment (ATR first, after the reset; the keys the
// user pressed), its Storage files read back, and the harness run in a V8 context with the few
// Espruino globals it touches: echo, then each card chunk once its byte count is reached, a
// write unlike the recording counted, the keypad matrix read through the harness's pins.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { CardLineRecording, harnessScript, HARNESS, measuredPinNames, recordCardLine, replayFiles } from '../../bench/card-line';
import { purchaseOnEmulator } from '../../bench/device';

const DIST = join(__dirname, '..', '..', 'dist', 'device');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let rec: CardLineRecording;
beforeAll(async () => {
  let r: CardLineRecording | null = null;
  const { device, host, answer } = await purchaseOnEmulator(readFileSync(join(DIST, 'firmware.js'), 'latin1'), (d, card) => {
    r = recordCardLine(d, card);
  });
  host.close();
  device.powerOff();
  expect((answer as { token?: Uint8Array }).token).toBeDefined();
  rec = r as unknown as CardLineRecording;
}, 30000);

describe('the recording of a purse payment', () => {
  it('starts with the ATR after the first reset, and holds the user\'s keys', () => {
    expect(rec.chunks[0].resets).toBe(1);
    expect(rec.chunks[0].after).toBe(0);
    expect(rec.chunks[0].bytes[0]).toBe(0x3b); // TS: direct convention
    for (let i = 1; i < rec.chunks.length; i++) expect(rec.chunks[i].after).toBeGreaterThanOrEqual(rec.chunks[i - 1].after);
    expect(rec.sent.length).toBeGreaterThan(100);
    expect(rec.keys.slice(-6)).toEqual(['OK', '1', '2', '3', '4', 'OK']);
  });

  it('reads back from its Storage files', () => {
    const f = replayFiles(rec, '');
    const idx = Buffer.from(f['rp.idx'], 'latin1');
    const card = Buffer.from(f['rp.card'], 'latin1');
    let off = 0;
    const back = [];
    for (let i = 0; i < idx.length; i += 5) {
      const len = idx[i + 3] | (idx[i + 4] << 8);
      back.push({ resets: idx[i], after: idx[i + 1] | (idx[i + 2] << 8), bytes: Uint8Array.from(card.subarray(off, off + len)) });
      off += len;
    }
    expect(back).toEqual(rec.chunks);
    expect([...Buffer.from(f['rp.dev'], 'latin1')]).toEqual(rec.sent);
  });

  it('names the pins of the measuring build: the slot\'s RST is a virtual pin there', () => {
    const names = measuredPinNames(readFileSync(join(DIST, 'firmware.js'), 'latin1'), readFileSync(join(DIST, 'firmware-measure.js'), 'latin1'));
    expect(names.get('B5')).toMatch(/^D\d+$/);
    for (const v of names.values()) expect(v).toMatch(/^D\d+$/);
  });
});

describe('the harness', () => {
  const pins = { rst: 'D4', rows: ['R0', 'R1', 'R2', 'R3'], cols: ['C0', 'C1', 'C2', 'C3'], layout: [['1', '2', '3', 'UP'], ['4', '5', '6', 'DOWN'], ['7', '8', '9', 'MENU'], ['CANCEL', '0', 'CLEAR', 'OK']] };

  /** The harness in a context with Storage, Serial2, pins and timers; what reaches the firmware is `line`. */
  function boot(): { g: Record<string, unknown>; line: number[][]; writes: [string, number][]; api: { keys(l: number[], done: () => void): void; state(): string } } {
    const files = replayFiles(rec, harnessScript(rec, pins, { holdMs: 5, gapMs: 5, debounceMs: 5 }));
    const line: number[][] = [];
    const writes: [string, number][] = [];
    const g: Record<string, unknown> = {
      require: () => ({ read: (n: string, off = 0, len?: number) => files[n].slice(off, len === undefined ? undefined : off + len) }),
      Serial2: { emit: (_ev: string, s: string) => line.push([...s].map((c) => c.charCodeAt(0))) },
      digitalWrite: (p: string, v: number) => writes.push([p, v]),
      digitalRead: () => 0,
      pinMode: () => undefined,
      setWatch: () => 1,
      getTime: () => Date.now() / 1000,
      setTimeout,
    };
    g.global = g;
    runInNewContext(files['rp.js'], g);
    return { g, line, writes, api: g[HARNESS] as never };
  }

  it('echoes every write, then gives each card chunk once the reset and the bytes before it happened', async () => {
    const { g, line, api } = boot();
    const write = g.Serial2 as { write: (d: Uint8Array) => void };
    const dw = g.digitalWrite as (p: string, v: number) => void;
    dw('D4', 0);
    dw('D4', 1); // the reset: the ATR is due
    await sleep(5);
    expect(line).toEqual([Array.from(rec.chunks[0].bytes)]);
    line.length = 0;
    // the firmware writes what it wrote in the emulator, block by block
    const expected: number[][] = [];
    let at = 0;
    for (let i = 1; i < rec.chunks.length; i++) {
      const block = rec.sent.slice(at, rec.chunks[i].after);
      if (block.length) {
        write.write(Uint8Array.from(block));
        expected.push(block);
      }
      at = rec.chunks[i].after;
      expected.push(Array.from(rec.chunks[i].bytes));
      await sleep(2);
    }
    await sleep(10);
    expect(line).toEqual(expected);
    expect(api.state()).toBe(`${rec.chunks.length} ${rec.chunks.length} 0 ${rec.chunks[rec.chunks.length - 1].after}`);
  });

  it('counts a write unlike the recording, and holds the card\'s answer back until the bytes are there', async () => {
    const { g, line, api } = boot();
    (g.digitalWrite as (p: string, v: number) => void)('D4', 1);
    const wrong = Uint8Array.from(rec.sent.slice(0, rec.chunks[1].after - 1)).map((b) => b ^ 0xff);
    (g.Serial2 as { write: (d: Uint8Array) => void }).write(wrong);
    await sleep(10);
    expect(line.length).toBe(2); // the ATR and the echo: the next chunk waits for one more byte
    expect(line[1]).toEqual(Array.from(wrong));
    expect(api.state().split(' ')[2]).toBe('1');
  });

  it('presses a key: its column reads 0 while its row is driven low, and the column\'s watch fires', async () => {
    const { g, api } = boot();
    const watch = g.setWatch as (f: (e: { state: number }) => void, p: string) => unknown;
    const read = g.digitalRead as (p: string) => number;
    const dw = g.digitalWrite as (p: string, v: number) => void;
    const seen: string[] = [];
    for (const c of pins.cols) {
      watch((e) => {
        // the firmware's scan: one row low at a time
        const down: string[] = [];
        for (let r = 0; r < 4; r++) {
          for (const rr of pins.rows) dw(rr, 1);
          dw(pins.rows[r], 0);
          for (let k = 0; k < 4; k++) if (!read(pins.cols[k])) down.push(pins.layout[r][k]);
        }
        seen.push(`${c}:${e.state}:${down.join(',')}`);
      }, c);
    }
    await new Promise<void>((done) => api.keys([3 * 4 + 3, 1 * 4 + 2], done)); // OK, then 6
    expect(seen).toEqual(['C3:0:OK', 'C3:1:', 'C2:0:6', 'C2:1:']);
  });
});
