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
// JsVars for a faithful count), the bench first makes a purse payment in the emulator and
// records the card's side of the line (bench/card-line.ts), then writes into the interpreter's
// Storage dist/device/firmware-measure.js (the firmware with the board's pins renamed to the
// interpreter's virtual pins; its first line as text, the rest pretokenised as on a board), the
// recording and the replay harness, boots the firmware from flash with the harness playing the
// card slot and the keypad, and reads process.memory() at idle, and every 10 ms from the moment
// a PURSE_DEBIT of a long statement arrives (link frames delivered with USB.emit): while it is
// laid out, through the user's keys (read to the end, OK, PIN, OK) and the card steps (VERIFY
// PIN, PURSE DEBIT, replayed), until the answer is acknowledged. The highest of those is the
// peak of a full payment; the answer must carry the token the emulator's card gave, and every
// byte the firmware writes to the card must be the recorded one. What the harness itself
// holds (measured without the firmware) is printed too. A payment that fails on the
// interpreter is reported as such, with the peak up to the failure. ESPRUINO_FIRMWARE names
// another file to boot instead (same layout: first line text, the rest as stored), e.g. a
// firmware patched by hand to try a fix. Without ESPRUINO_BIN it says JsVars were not measured.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { EmulatedDevice } from '../board/emulator/device';
import { EmulatedCard } from '../board/card/card';
import { personalise, testCa, testIssuer } from '../board/card/personalise';
import { personAt } from '../board/emulator/person';
import { DeviceLink } from '../host/src/link/device-link';
import { decodeHostMessage, encodeHostMessage } from '../host/src/link/codec';
import { PINMAP } from '../board/emulator/keypad';
import { CardLineRecording, harnessScript, HARNESS, keyIndices, measuredPinNames, recordCardLine, replayFiles } from './card-line';
import { encodeFrame, FrameKind, FrameReader } from '../protocol/src/frame';
import { Message, MsgType } from '../protocol/src/messages';
import { encodeCanonical, HostCbor } from '../shared/src/cbor';

const ROOT = join(__dirname, '..', '..');
const FIRMWARE = join(ROOT, 'dist', 'device', 'firmware.js');
const MEASURE = join(ROOT, 'dist', 'device', 'firmware-measure.js');
const BOOTCDE = join(ROOT, 'dist', 'device', 'firmware.bootcde');
const MEASURE_BOOTCDE = join(ROOT, 'dist', 'device', 'firmware-measure.bootcde');
const METAFILE = join(ROOT, 'dist', 'device', 'firmware.meta.json');
/** The last whole-payment measurement on a real interpreter (written by a run with ESPRUINO_BIN, committed). */
const MEASURED = join(ROOT, 'bench', 'jsvars-measured.json');

/** What bench/jsvars-measured.json holds: JsVars without the replay harness, and the code they are of. */
interface MeasuredJsVars {
  measured: string;
  interpreter: string;
  bootcde: number;
  sha256: string;
  idle: number;
  statement: number;
  payment: number;
}
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

/** The link frames the measurement sends: SYNC, then a CONFIRM or a PURSE_DEBIT of PAYMENT_STATEMENT, and the ACK of the answer; as JS literals. */
export function paymentFrames(): { sync: string; confirm: string; debit: string; ack: string } {
  const frame = (kind: number, payload: Uint8Array): string => JSON.stringify(Buffer.from(encodeFrame({ kind: kind as never, seq: 0, ack: 255, payload }, (d) => crc32(d))).toString('latin1'));
  return {
    sync: frame(FrameKind.SYNC, Uint8Array.of(1, 2, 3, 4)),
    confirm: frame(FrameKind.DATA, encodeHostMessage(MsgType.CONFIRM, 7, { statement: PAYMENT_STATEMENT }, 'request')),
    debit: frame(FrameKind.DATA, encodeHostMessage(MsgType.PURSE_DEBIT, 7, { statement: PAYMENT_STATEMENT }, 'request')),
    // the host's acknowledgement of the device's first DATA frame (the answer)
    ack: JSON.stringify(Buffer.from(encodeFrame({ kind: FrameKind.ACK, seq: 0, ack: 0, payload: new Uint8Array(0) }, (d) => crc32(d))).toString('latin1')),
  };
}

/**
 * Writes `fw` (a byte string) into the Storage of the interpreter `bin` as fw.js, then runs
 * `script` there (which may eval it from flash) and returns what it printed.
 */
export function onInterpreter(bin: string, fw: string, script: string): string {
  return runsOnInterpreter(bin, { 'fw.js': fw }, [script])[0];
}

/**
 * Writes `files` (byte strings) into the erased Storage of the interpreter `bin`, then runs
 * each of `scripts` there in turn (a fresh interpreter each, the same Storage) and returns
 * what each printed.
 */
function runsOnInterpreter(bin: string, files: Record<string, string>, scripts: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'semper-bench-'));
  try {
    const run = (code: string): string => {
      writeFileSync(join(dir, 'run.js'), code, 'latin1');
      return execFileSync(bin, ['run.js'], { cwd: dir, input: '', encoding: 'latin1', timeout: 60000 });
    };
    // in chunks: a script holding the whole bundle as one literal would not fit the Pico's RAM
    const CHUNK = 6000;
    let erase = 'require("Storage").eraseAll();';
    for (const [name, data] of Object.entries(files)) {
      for (let off = 0; off === 0 || off < data.length; off += CHUNK) {
        const part = JSON.stringify(data.slice(off, off + CHUNK));
        const code = off === 0 ? `${erase}print("W",require("Storage").write(${JSON.stringify(name)},${part},0,${data.length}));` : `print("W",require("Storage").write(${JSON.stringify(name)},${part},${off}));`;
        if (!/W true/.test(run(code))) throw new Error(`writing ${name} to the interpreter's Storage failed`);
        erase = '';
      }
    }
    return scripts.map(run);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the interpreter measured (JsVars, process.memory().usage), or null without ESPRUINO_BIN. */
interface JsVarFigures {
  bin: string;
  total: number;
  /** The Storage the resource files took (bytes with headers). */
  resources: number;
  idle: number;
  review: number;
  /** Highest while the statement arrives and is laid out. */
  statement: number;
  /** Highest from the request's arrival until the answer has left: review, keys, PIN, card steps. */
  payment: number;
  /** What the replay harness holds with no firmware (in every figure above). */
  harness: number;
  /** Card chunks replayed and bytes the firmware sent the card, against the recording. */
  replayed: string;
  /** The token the firmware answered with (hex prefix; the emulator's), or why there is none. */
  answer: { token: string } | { failed: string };
}

/** The device's answers (DATA frames) in what the interpreter printed. */
function answersIn(out: string): Message[] {
  const answers: Message[] = [];
  const reader = new FrameReader(
    (d) => crc32(d),
    (f) => {
      if (f.kind !== FrameKind.DATA) return;
      try {
        answers.push(decodeHostMessage(f.payload, 'response'));
      } catch {
        // not a message the host would accept: not the answer
      }
    },
  );
  reader.push(Buffer.from(out, 'latin1'));
  return answers;
}

async function jsVars(): Promise<JsVarFigures | null> {
  const bin = process.env.ESPRUINO_BIN;
  if (!bin) return null;
  // the card's side of a payment, recorded in the emulator (bench/card-line.ts)
  let rec: CardLineRecording | null = null;
  const board = readFileSync(FIRMWARE, 'latin1');
  const emu = await purchaseOnEmulator(board, (device, card) => {
    rec = recordCardLine(device, card);
  });
  emu.host.close();
  emu.device.powerOff();
  const recording = rec as CardLineRecording | null;
  const emuToken = (emu.answer as { token?: Uint8Array }).token;
  if (!recording || !emuToken) throw new Error('the payment in the emulator gave no token to replay');
  // the resource line as text (it runs once, at the first boot), the firmware pretokenised
  const text = readFileSync(MEASURE, 'latin1');
  const fw = process.env.ESPRUINO_FIRMWARE ? readFileSync(process.env.ESPRUINO_FIRMWARE, 'latin1') : text.slice(0, text.indexOf('\n') + 1) + readFileSync(MEASURE_BOOTCDE, 'latin1');
  const names = measuredPinNames(board, text);
  const pin = (p: string): string => names.get(p) ?? p;
  const kp = PINMAP.keypad as { rows: string[]; cols: string[]; layout: string[][]; debounceMs: number };
  const harness = harnessScript(
    recording,
    { rst: pin((PINMAP.card as { rst: { pin: string } }).rst.pin), rows: kp.rows.map(pin), cols: kp.cols.map(pin), layout: kp.layout },
    { holdMs: 60, gapMs: 150, debounceMs: kp.debounceMs + 5 },
  );
  const { sync, debit, ack } = paymentFrames();
  // the console stays on stdout (the firmware would move it to LoopbackA) so the figures can be
  // read. The firmware's top-level names are globals (it runs as .bootcde does, not in a
  // function): the measuring code declares none of its own, all of it is inside a function.
  // After the keys it waits for the last card chunk (at most 10 s), acknowledges the answer as
  // the host would, and stops sampling a second later.
  const measure =
    '(function(){function m(t){var p=process.memory();print("MEM "+t+" "+p.usage+" "+p.total);}' +
    `var H=global.${HARNESS},P=0,w,t=0;` +
    'var R=0,S=require("Storage");S.list(/^semper\\./).forEach(function(n){R+=S.read(n).length+32;});print("MEM resources "+R+" 0");' +
    `setTimeout(function(){m("idle");USB.emit("data",${sync});` +
    `setTimeout(function(){w=setInterval(function(){var u=process.memory().usage;if(u>P)P=u;},10);USB.emit("data",${debit});` +
    'setTimeout(function(){m("review");print("MEM statement "+P+" 0");' +
    `H.keys(${keyIndices(recording, kp.layout)},function(){(function wait(){var s=H.state().split(" ");if(s[0]!=s[1]&&t++<200)return setTimeout(wait,50);` +
    `setTimeout(function(){USB.emit("data",${ack});},200);` +
    'setTimeout(function(){clearInterval(w);print("MEM payment "+P+" 0");print("REPLAY "+H.state());quit();},1000);})();});' +
    '},600);},200);},800);})();';
  const load = 'eval(require("Storage").read("rp.js"));';
  const [out, bare, alone] = runsOnInterpreter(bin, { 'fw.js': fw, ...replayFiles(recording, harness) }, [
    'LoopbackA.setConsole=function(){};' + load + 'eval(require("Storage").read("fw.js"));' + measure,
    // the harness's own cost: with no firmware, against nothing at all
    'setTimeout(function(){print("MEM bare "+process.memory().usage+" 0");quit();},800);',
    load + 'setTimeout(function(){print("MEM alone "+process.memory().usage+" 0");quit();},800);',
  ]);
  // the review's STATUS label: the statement was accepted and is on screen, not refused
  if (!/Check/.test(out)) throw new Error(`the statement never came on screen on ${bin}:\n${out.slice(-400)}`);
  if (/Uncaught/.test(out)) throw new Error(`the firmware failed on ${bin}:\n${out.slice(out.indexOf('Uncaught'), out.indexOf('Uncaught') + 400)}`);
  const get = (o: string, tag: string): [number, number] => {
    const m = new RegExp(`MEM ${tag} (\\d+) (\\d+)`).exec(o);
    if (!m) throw new Error(`no ${tag} figure from ${bin}:\n${o.slice(-400)}`);
    return [Number(m[1]), Number(m[2])];
  };
  const replay = /REPLAY (\d+) (\d+) (\d+) (\d+)/.exec(out);
  if (!replay) throw new Error(`the card replay never finished on ${bin}:\n${out.slice(-400)}`);
  const [, given, of, bad, sent] = replay.map(Number);
  // every byte the firmware wrote to the card was the recorded one: the card's answers fit
  if (bad !== 0) throw new Error(`the firmware on ${bin} wrote ${bad} chunks to the card unlike the emulator's run: the replay does not apply`);
  const answer = answersIn(out).find((a) => a.id === 7);
  const token = (answer?.body as { token?: Uint8Array } | undefined)?.token;
  let result: JsVarFigures['answer'];
  if (answer && answer.type === MsgType.PURSE_DEBIT && token && Buffer.compare(Buffer.from(token), Buffer.from(emuToken)) === 0 && given === of) {
    result = { token: Buffer.from(token).subarray(0, 8).toString('hex') };
  } else {
    const labels = [...out.matchAll(/(Check|Enter PIN|Card working)/g)].map((m) => m[1]);
    const code = answer?.type === MsgType.ERROR ? `ERROR code ${(answer.body as { code: number }).code}` : answer ? `answer type ${answer.type}` : 'no answer';
    result = { failed: `${code} after ${labels[labels.length - 1] ?? 'the review'}; card chunks ${given} of ${of}` };
  }
  const [idle, total] = get(out, 'idle');
  return {
    bin,
    total,
    resources: get(out, 'resources')[0],
    idle,
    review: get(out, 'review')[0],
    statement: get(out, 'statement')[0],
    payment: get(out, 'payment')[0],
    harness: get(alone, 'alone')[0] - get(bare, 'bare')[0],
    replayed: `${given} of ${of} card chunks, ${sent} of ${recording.sent.length} bytes to the card`,
    answer: result,
  };
}

/**
 * `firmware` booted in the emulator with Erika Mustermann's card (PIN 1234, €5,000 in the
 * purse), linked to a host, and a purse payment of PAYMENT_STATEMENT made as its user makes it:
 * read to the end, OK, the PIN, OK. Resolves to the answer and where in the device's USB
 * traffic the payment began; the device is left on (powerOff() and host.close() are the caller's).
 * `watch` sees the device and its card before power-on (bench/card-line.ts records the card line).
 */
export async function purchaseOnEmulator(firmware: string, watch?: (device: EmulatedDevice, card: EmulatedCard) => void): Promise<{ device: EmulatedDevice; host: DeviceLink; answer: unknown; from: number }> {
  const persona = personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 500000, ca: testCa('bench'), issuer: testIssuer('bench') });
  const device = new EmulatedDevice({ firmware, onConsole: () => {} });
  const card = new EmulatedCard(persona.nv);
  device.insertCard(card);
  watch?.(device, card);
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
  const mem = await jsVars();
  const code = readFileSync(BOOTCDE);
  const codeHash = createHash('sha256').update(code).digest('hex');
  if (mem && 'token' in mem.answer) {
    // kept in the repository: the figure a run without an interpreter prints as its estimate
    const rec: MeasuredJsVars = { measured: new Date().toISOString().slice(0, 10), interpreter: 'Espruino 2v29, Linux port with the Pico\'s 5,100 JsVars', bootcde: code.length, sha256: codeHash, idle: mem.idle - mem.harness, statement: mem.statement - mem.harness, payment: mem.payment - mem.harness };
    writeFileSync(MEASURED, JSON.stringify(rec, null, 2) + '\n');
  }
  if (mem) {
    const storage = boot + 32 + mem.resources;
    row('Storage in all (.bootcde, resource files, headers)', `${(storage / 1024).toFixed(1)} KB (${storage} B)`, '≤ 48 KB = 49152 B (the Pico\'s Storage)');
    const net = (n: number): string => `${n} (${n - mem.harness})`;
    row(`JsVars at idle (${mem.total} on this interpreter)`, net(mem.idle), '≤ 3,000 (room for an operation)');
    row('JsVars with a payment statement on screen', net(mem.review), '≤ 3,500 at peak');
    row('JsVars, highest while it arrives and is laid out', net(mem.statement), '≤ 3,500 at peak');
    if ('token' in mem.answer) row('JsVars, highest in a whole purse payment', net(mem.payment), '≤ 3,500 at peak (a full payment flow)');
    else row('JsVars, highest in a purse payment until it failed', net(mem.payment), '≤ 3,500 at peak (a full payment flow)');
    console.log(`    (in brackets: without the ${mem.harness} JsVars the card replay harness holds with no firmware)`);
    console.log(`    measured on ${mem.bin}, every 10 ms from the PURSE_DEBIT's arrival until the answer was`);
    console.log(`    acknowledged: review, the user's keys (read to the end, OK, PIN, OK), VERIFY PIN and PURSE`);
    console.log(`    DEBIT with the card's side replayed from the emulator (${mem.replayed}, all as recorded)`);
    if ('token' in mem.answer) console.log(`    answer: token ${mem.answer.token}…, the one the emulator's card gave`);
    else console.log(`    THE PAYMENT DID NOT COMPLETE on the interpreter: ${mem.answer.failed} (device/ESPRUINO.md)`);
  } else {
    // no interpreter here: the estimate is the last measurement on one (bench/jsvars-measured.json),
    // moved by the code's change in size at the measured cost of code in flash (device/ESPRUINO.md:
    // a function ≈ 4 JsVars + 1 per parameter; ~1 JsVar per 10 bytes of .bootcde is the bound used)
    const last = existsSync(MEASURED) ? (JSON.parse(readFileSync(MEASURED, 'utf8')) as MeasuredJsVars) : null;
    if (!last) row('JsVars', 'not measured', '≤ 3,500 at peak');
    else {
      const same = last.sha256 === codeHash;
      const drift = same ? 0 : Math.max(0, Math.ceil((code.length - last.bootcde) / 10));
      const est = (n: number): string => (same ? String(n) : `≈ ${n + drift}`);
      row('JsVars at idle, estimated', est(last.idle), '≤ 3,000 (room for an operation)');
      row('JsVars, highest in a whole purse payment, estimated', est(last.payment), '≤ 3,500 at peak (a full payment flow)');
      console.log(same ? `    measured for this very code (.bootcde sha256 ${codeHash.slice(0, 12)}…) on ${last.measured}: ${last.interpreter}` : `    from a measurement on ${last.measured} of code ${code.length - last.bootcde >= 0 ? '+' : ''}${code.length - last.bootcde} B from this one, plus up to ${drift} JsVars for the difference`);
    }
    console.log('    set ESPRUINO_BIN to a locally built Espruino 2v29 (device/ESPRUINO.md) to count them on the real interpreter');
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
