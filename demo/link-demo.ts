// npm run demo:link: a live demonstration of the device↔host link. The real firmware
// bundle (dist/device/firmware.js) runs in the Espruino emulator sandbox; the host agent's
// link client talks to it over an in-memory line; every frame is shown as it crosses.
// Then the line turns hostile (drops, bit flips, duplicates, noise) and the link still
// delivers every message exactly once.

import { Frame, FrameKind } from '../protocol/src/frame';
import { decode, CborMap, CborValue } from '../protocol/src/cbor';
import { LINK_LIMITS, msgTypeName, MsgType, errorCodeName } from '../protocol/src/messages';
import { faultyLine, LineFaults } from '../shared/src/line';
import { EmulatedDevice } from '../board/emulator/device';
import { DeviceError, DeviceLink } from '../host/src/link/device-link';

const HELP = `semper link demo — the firmware bundle and the host talking over the link protocol

usage: npm run demo:link [-- options]

options:
  --quiet            do not print every frame, only the steps and the summary
  --pings N          messages to send over the hostile line (default 40)
  --drop P           probability a chunk is lost on the hostile line (default 0.15)
  --corrupt P        probability of a bit flip (default 0.10)
  --duplicate P      probability a chunk arrives twice (default 0.10)
  --noise P          probability of random bytes before a chunk (default 0.15)
  --help             this text

The firmware is read from dist/device/firmware.js (npm run demo:link builds it first).
Protocol specification: protocol/SPEC.md`;

interface Args {
  quiet: boolean;
  pings: number;
  faults: LineFaults;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quiet: false, pings: 40, faults: { drop: 0.15, corrupt: 0.1, duplicate: 0.1, noise: 0.15 } };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) fatal(`${k} needs a non-negative number`);
      return v;
    };
    if (k === '--help' || k === '-h') {
      console.log(HELP);
      process.exit(0);
    } else if (k === '--quiet') a.quiet = true;
    else if (k === '--pings') a.pings = Math.floor(num());
    else if (k === '--drop' || k === '--corrupt' || k === '--duplicate' || k === '--noise') {
      const p = num();
      if (p >= 1) fatal(`${k} is a probability below 1`);
      a.faults[k.slice(2) as keyof LineFaults] = p as never;
    } else fatal(`unknown option ${k} (see --help)`);
  }
  return a;
}

function fatal(msg: string): never {
  console.error(`link-demo: ${msg}`);
  process.exit(2);
}

const KIND = Object.keys(FrameKind) as (keyof typeof FrameKind)[]; // index = kind number
const hex = (b: Uint8Array, max = 48): string => {
  const h = Buffer.from(b.subarray(0, max)).toString('hex').replace(/(..)/g, '$1 ').trim();
  return b.length > max ? `${h} … (${b.length} bytes)` : h;
};

/** A compact rendering of a message for the trace. */
function describe(payload: Uint8Array): string {
  try {
    const v = decode(payload, LINK_LIMITS) as CborValue[];
    const [type, id, body] = v as [number, number, CborMap];
    const fields = body.keys.map((k, i) => `${k}: ${show(body.values[i])}`).join(', ');
    let name = msgTypeName(type);
    if (type === MsgType.ERROR) name += ` ${errorCodeName(body.get(1) as number)}`;
    return `${name} #${id} {${fields}}`;
  } catch {
    return `(${payload.length} bytes, not a message)`;
  }
}

function show(v: CborValue): string {
  if (v instanceof Uint8Array) return `h'${Buffer.from(v.subarray(0, 12)).toString('hex')}${v.length > 12 ? '…' : ''}'`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  return String(v);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const faults: LineFaults = {};
  const trace = (dir: 'tx' | 'rx', f: Frame, wire: Uint8Array | null): void => {
    if (args.quiet) return;
    const arrow = dir === 'tx' ? 'host → device' : 'device → host';
    const what = f.kind === FrameKind.DATA || f.kind === FrameKind.EVENT ? describe(f.payload) : f.kind === FrameKind.ACK ? '' : `nonce ${hex(f.payload)}`;
    console.log(`  ${arrow}  ${KIND[f.kind].padEnd(8)} seq=${String(f.seq).padStart(3)} ack=${String(f.ack).padStart(3)}  ${what}`);
    if (wire) console.log(`                 wire: ${hex(wire)}`);
  };

  console.log('SEMPER link demo: firmware bundle dist/device/firmware.js in the Espruino emulator\n');
  const device = new EmulatedDevice({ onConsole: () => {} }).powerOn();
  const host = new DeviceLink(faultyLine(device.usb, faults), { onTrace: trace, rto: 60 });
  let statuses = 0;
  host.on('status', () => statuses++);

  console.log('1. Handshake: SYNC resets both ends, HELLO negotiates the version');
  const hello = await host.connect();
  console.log(`   → firmware ${hello.firmware} on ${hello.board}, protocol v${hello.version}, serial ${Buffer.from(hello.serial as Uint8Array).toString('hex')},` +
    ` capabilities ${(hello.capabilities as number[]).map(msgTypeName).join(', ')}\n`);

  console.log('2. PING with 16 bytes');
  const t0 = performance.now();
  await host.request(MsgType.PING, { data: new Uint8Array(16).fill(0xa5) });
  console.log(`   → echoed in ${(performance.now() - t0).toFixed(1)} ms (emulator, no line pacing)\n`);

  console.log('3. A request the device cannot serve answers with a typed error (no card in the slot)');
  try {
    await host.request(MsgType.PURSE_BALANCE, {});
  } catch (e) {
    const d = e as DeviceError;
    console.log(`   → ${d.code}: ${d.message}\n`);
  }

  console.log(`4. Hostile line: drop ${faults.drop ?? args.faults.drop}, corrupt ${args.faults.corrupt}, duplicate ${args.faults.duplicate}, noise ${args.faults.noise} per chunk, both directions`);
  Object.assign(faults, args.faults);
  const resetsBefore = host.link.stats.resets;
  const quietWas = args.quiet;
  args.quiet = true;
  let ok = 0;
  let retried = 0;
  const failures: string[] = [];
  for (let i = 0; i < args.pings; i++) {
    const data = new Uint8Array(8 + (i % 64)).map((_, k) => (k * 7 + i) & 0xff);
    // PING is idempotent, so a request voided by a link reset is simply asked again,
    // as an application would; anything else is a failure
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await host.request(MsgType.PING, { data }, { timeoutMs: 10000 });
        if (Buffer.compare(r.data as Uint8Array, data) === 0) ok++;
        else failures.push(`ping ${i}: wrong echo`);
        break;
      } catch (e) {
        const code = (e as DeviceError).code;
        if (code === 'LINK_RESET' && attempt < 3) {
          retried++;
          continue;
        }
        failures.push(`ping ${i}: ${code}`);
        break;
      }
    }
  }
  args.quiet = quietWas;
  for (const k of Object.keys(faults)) delete faults[k as keyof LineFaults];
  const ls = host.link.stats;
  const fs = host.link.frameStats;
  console.log(`   → ${ok}/${args.pings} echoed intact; host retransmitted ${ls.retransmissions}, suppressed ${ls.duplicates} duplicates, ` +
    `dropped ${fs.crcErrors} frames with bad CRC and ${fs.malformed} malformed; link resets ${ls.resets - resetsBefore} (${retried} requests asked again)`);
  if (failures.length) console.log(`   failures: ${failures.join('; ')}`);
  console.log('');

  console.log('5. After the storm the line is clean again');
  const h2 = await host.request(MsgType.HELLO, { minVersion: 1, maxVersion: 1 });
  console.log(`   → HELLO answered by firmware ${h2.firmware}; ${statuses} STATUS events seen\n`);

  host.close();
  device.powerOff();
  const uncaught = device.sandbox.uncaught.length;
  console.log(`Done. Firmware uncaught errors: ${uncaught}. Next: npm test runs the whole suite; protocol/SPEC.md specifies every byte.`);
  process.exit(failures.length === 0 && uncaught === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`link-demo: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
