// npm run bench:device — the firmware against its goals (issue: size and memory): bundle
// bytes, JsVars on the Pico, frames and bytes per payment, key-press-to-screen latency.
// Figures, not pass/fail.
//
// Size is what a board's Storage must hold: .bootcde (firmware.js after its first line,
// pretokenised as `npm run flash` stores it: dist/device/firmware.bootcde, tools/pretokenise.mjs)
// plus the resource files that line carries (font, language packs; tools/build.mjs), each with
// Espruino's 32-byte file header, against the Pico's 48 KB. The biggest modules of the bundle
// (esbuild's metafile, minified bytes before pretokenising) are listed so that the next cut
// knows where the bytes are.
//
// JsVars are counted by the real interpreter only: V8 objects have no JsVar equivalent, and
// the firmware's state lives in closures the emulator cannot see. With ESPRUINO_BIN naming a
// locally built Espruino 2v29 Linux port (device/ESPRUINO.md; built with the Pico's 5,100
// JsVars for a faithful count), the bench writes dist/device/firmware-measure.js (the firmware
// with the board's pins renamed to the interpreter's virtual pins; its first line as text, the
// rest pretokenised as on a board) into its Storage, boots it from flash (its first line writes
// the resource files, as the flash tool does), and reads
// process.memory() at idle, and every 10 ms from the moment a long payment statement
// arrives until it is on screen (link frames delivered with USB.emit): the highest of those is
// the peak. The Linux port has no card, so the card steps of a payment (PIN, debit) are not in
// it. Without ESPRUINO_BIN it says so.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { EmulatedDevice } from '../board/emulator/device';
import { EmulatedCard } from '../board/card/card';
import { personalise, testCa, testIssuer } from '../board/card/personalise';
import { personAt } from '../board/emulator/person';
import { DeviceLink } from '../host/src/link/device-link';
import { encodeHostMessage } from '../host/src/link/codec';
import { encodeFrame, FrameKind, FrameReader } from '../protocol/src/frame';
import { MsgType } from '../protocol/src/messages';
import { encodeCanonical, HostCbor } from '../shared/src/cbor';

const ROOT = join(__dirname, '..', '..');
const FIRMWARE = join(ROOT, 'dist', 'device', 'firmware.js');
const MEASURE = join(ROOT, 'dist', 'device', 'firmware-measure.js');
const BOOTCDE = join(ROOT, 'dist', 'device', 'firmware.bootcde');
const MEASURE_BOOTCDE = join(ROOT, 'dist', 'device', 'firmware-measure.bootcde');
const METAFILE = join(ROOT, 'dist', 'device', 'firmware.meta.json');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A long payment statement (every field the review lays out). */
export const PAYMENT_STATEMENT = encodeCanonical(
  new Map<number, HostCbor>([
    [1, 1],
    [2, 'Order 4711: 3 items'],
    [3, [123456, 'EUR']],
    [4, 'Buchhandlung Müller & Söhne'],
    [6, 'INV-2026-4711'],
    [7, 'Three CD-ROMs of the SEMPER trials, shipped by parcel within five working days.'],
    [8, 1764547200],
    [9, 1767225600],
    [10, 'https://shop.example'],
  ]),
);

function row(name: string, value: string, goal: string): void {
  console.log(`  ${name.padEnd(46)} ${value.padStart(14)}   goal ${goal}`);
}

/** The link frames the measurement sends: SYNC, then a CONFIRM of PAYMENT_STATEMENT; as JS literals. */
export function paymentFrames(): { sync: string; confirm: string } {
  const frame = (kind: number, payload: Uint8Array): string => JSON.stringify(Buffer.from(encodeFrame({ kind: kind as never, seq: 0, ack: 255, payload }, (d) => crc32(d))).toString('latin1'));
  return { sync: frame(FrameKind.SYNC, Uint8Array.of(1, 2, 3, 4)), confirm: frame(FrameKind.DATA, encodeHostMessage(MsgType.CONFIRM, 7, { statement: PAYMENT_STATEMENT }, 'request')) };
}

/**
 * Writes `fw` (a byte string) into the Storage of the interpreter `bin` as fw.js, then runs
 * `script` there (which may eval it from flash) and returns what it printed.
 */
export function onInterpreter(bin: string, fw: string, script: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'semper-bench-'));
  try {
    const run = (code: string): string => {
      writeFileSync(join(dir, 'run.js'), code, 'latin1');
      return execFileSync(bin, ['run.js'], { cwd: dir, input: '', encoding: 'latin1', timeout: 60000 });
    };
    // in chunks: a script holding the whole bundle as one literal would not fit the Pico's RAM
    const CHUNK = 6000;
    for (let off = 0; off < fw.length; off += CHUNK) {
      const part = JSON.stringify(fw.slice(off, off + CHUNK));
      const code = off === 0 ? `var S=require("Storage");S.eraseAll();print("W",S.write("fw.js",${part},0,${fw.length}));` : `print("W",require("Storage").write("fw.js",${part},${off}));`;
      if (!/W true/.test(run(code))) throw new Error('writing the bundle to the interpreter\'s Storage failed');
    }
    return run(script);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** JsVars on a real interpreter, or null without ESPRUINO_BIN. */
function jsVars(): { idle: number; review: number; peak: number; resources: number; total: number; bin: string } | null {
  const bin = process.env.ESPRUINO_BIN;
  if (!bin) return null;
  // the resource line as text (it runs once, at the first boot), the firmware pretokenised
  const text = readFileSync(MEASURE, 'latin1');
  const fw = text.slice(0, text.indexOf('\n') + 1) + readFileSync(MEASURE_BOOTCDE, 'latin1');
  const { sync, confirm } = paymentFrames();
  {
    // the console stays on stdout (the firmware would move it to LoopbackA) so the figures can be
    // read. The firmware's top-level names are globals (it runs as .bootcde does, not in a
    // function): the measuring code declares none of its own, all of it is inside a function.
    const out = onInterpreter(
      bin,
      fw,
      'LoopbackA.setConsole=function(){};eval(require("Storage").read("fw.js"));(function(){' +
        'function m(t){var p=process.memory();print("MEM "+t+" "+p.usage+" "+p.total);}' +
        'var R=0,S=require("Storage");S.list(/^semper\\./).forEach(function(n){R+=S.read(n).length+32;});print("MEM resources "+R+" 0");' +
        `setTimeout(function(){m("idle");USB.emit("data",${sync});` +
        `setTimeout(function(){var P=0,w=setInterval(function(){var u=process.memory().usage;if(u>P)P=u;},10);USB.emit("data",${confirm});` +
        'setTimeout(function(){clearInterval(w);m("review");print("MEM peak "+P+" 0");quit();},600);},200);},800);})();',
    );
    // the review's STATUS label: the statement was accepted and is on screen, not refused
    if (!/Check/.test(out)) throw new Error(`the statement never came on screen on ${bin}:\n${out.slice(-400)}`);
    if (/Uncaught/.test(out)) throw new Error(`the firmware failed on ${bin}:\n${out.slice(out.indexOf('Uncaught'), out.indexOf('Uncaught') + 400)}`);
    const get = (tag: string): [number, number] => {
      const m = new RegExp(`MEM ${tag} (\\d+) (\\d+)`).exec(out);
      if (!m) throw new Error(`no ${tag} figure from ${bin}:\n${out.slice(-400)}`);
      return [Number(m[1]), Number(m[2])];
    };
    const [idle, total] = get('idle');
    return { idle, review: get('review')[0], peak: get('peak')[0], resources: get('resources')[0], total, bin };
  }
}

/**
 * `firmware` booted in the emulator with Erika Mustermann's card (PIN 1234, €5,000 in the
 * purse), linked to a host, and a purse payment of PAYMENT_STATEMENT made as its user makes it:
 * read to the end, OK, the PIN, OK. Resolves to the answer and where in the device's USB
 * traffic the payment began; the device is left on (powerOff() and host.close() are the caller's).
 */
export async function purchaseOnEmulator(firmware: string): Promise<{ device: EmulatedDevice; host: DeviceLink; answer: unknown; from: number }> {
  const persona = personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 500000, ca: testCa('bench'), issuer: testIssuer('bench') });
  const device = new EmulatedDevice({ firmware, onConsole: () => {} });
  device.insertCard(new EmulatedCard(persona.nv));
  const host = new DeviceLink(device.usb);
  device.powerOn();
  await host.connect({ timeoutMs: 5000 });
  // keys held until the firmware's scan has read them (board/emulator/person.ts)
  const person = personAt(() => device);
  await person.waitFor(/Erika/);
  const from = device.usbTraffic.length;
  const p = host.request(MsgType.PURSE_DEBIT, { statement: PAYMENT_STATEMENT });
  await person.waitFor(/PAYMENT/);
  await person.approve('1234');
  return { device, host, answer: await p, from };
}

async function emulatorFigures(): Promise<{ frames: number; bytes: number; latencyMs: number[] }> {
  const { device, host, from: before } = await purchaseOnEmulator(readFileSync(FIRMWARE, 'utf8'));
  const traffic = device.usbTraffic.slice(before);
  let frames = 0;
  const reader = new FrameReader((d) => crc32(d), () => frames++);
  for (const b of traffic) reader.push(b);
  const bytes = traffic.reduce((n, b) => n + b.length, 0);
  // key press to a changed panel: MENU opens the menu, CANCEL closes it
  const latencyMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const k = i % 2 ? 'CANCEL' : 'MENU';
    const shot = device.display.image().pixels.join('');
    const t0 = performance.now();
    device.keypad.press(k);
    while (device.display.image().pixels.join('') === shot && performance.now() - t0 < 1000) await sleep(0);
    latencyMs.push(performance.now() - t0);
    device.keypad.release(k);
    await sleep(40);
  }
  host.close();
  device.powerOff();
  return { frames, bytes, latencyMs };
}

/** The bundle's biggest modules by minified bytes (esbuild's metafile of firmware.js). */
function topModules(n: number): void {
  const meta = JSON.parse(readFileSync(METAFILE, 'utf8')) as { outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }> };
  const inputs = Object.values(meta.outputs)[0].inputs;
  const rows = Object.entries(inputs)
    .map(([file, v]): [string, number] => [file, v.bytesInOutput])
    .sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((t, r) => t + r[1], 0);
  console.log(`    biggest modules (minified bytes, of ${total}):`);
  for (const [file, bytes] of rows.slice(0, n)) console.log(`      ${String(bytes).padStart(6)}  ${((100 * bytes) / total).toFixed(1).padStart(4)}%  ${file}`);
  const protocol = rows.filter((r) => r[0].startsWith('protocol/')).reduce((t, r) => t + r[1], 0);
  const card = rows.filter((r) => r[0].startsWith('device/src/card/')).reduce((t, r) => t + r[1], 0);
  console.log(`      by layer: protocol/ ${protocol}, device/src/card/ ${card}, rest of device/ ${total - protocol - card}`);
}

async function main(): Promise<void> {
  console.log('SEMPER firmware: size, memory, link and responsiveness\n');
  const text = readFileSync(FIRMWARE, 'latin1');
  const minified = text.startsWith('/*semper-resources*/') ? text.length - text.indexOf('\n') - 1 : text.length;
  const boot = statSync(BOOTCDE).size;
  row('firmware code (.bootcde, pretokenised)', `${(boot / 1024).toFixed(1)} KB (${boot} B)`, '≤ 40 KB');
  row('  the same as minified text (firmware.js after line 1)', `${(minified / 1024).toFixed(1)} KB`, '—');
  topModules(8);
  const mem = jsVars();
  if (mem) {
    const storage = boot + 32 + mem.resources;
    row('Storage in all (.bootcde, resource files, headers)', `${(storage / 1024).toFixed(1)} KB (${storage} B)`, '≤ 48 KB = 49152 B (the Pico\'s Storage)');
    row(`JsVars at idle (${mem.total} on this interpreter)`, String(mem.idle), '≤ 3,000 (room for an operation)');
    row('JsVars with a payment statement on screen', String(mem.review), '≤ 3,500 at peak');
    row('JsVars, highest while it arrives and is laid out', String(mem.peak), '≤ 3,500 at peak');
    console.log(`    measured on ${mem.bin}; card operations need a card, which the Linux port lacks`);
  } else {
    row('JsVars', 'not measured', '≤ 3,500 at peak');
    console.log('    set ESPRUINO_BIN to a locally built Espruino 2v29 (device/ESPRUINO.md) to count them');
  }
  const e = await emulatorFigures();
  row('frames on USB for one purse payment (device → host)', String(e.frames), '≤ 8 (a STATUS per step, the answer, acks)');
  row('line time of those bytes at 115,200 baud', `${((e.bytes * 10 * 1000) / 115200).toFixed(1)} ms (${e.bytes} B)`, '≤ 100 ms');
  const sorted = e.latencyMs.slice().sort((a, b) => a - b);
  row('key press to screen, median (emulator, 20 presses)', `${sorted[10].toFixed(1)} ms`, '≤ 100 ms (includes 20 ms debounce)');
  row('key press to screen, worst', `${sorted[sorted.length - 1].toFixed(1)} ms`, '≤ 100 ms');
}

// run as the bench; imported (test/espruino), only its helpers
if (require.main === module) {
  void main().then(
    () => process.exit(0),
    (e) => {
      console.error(`bench:device: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
