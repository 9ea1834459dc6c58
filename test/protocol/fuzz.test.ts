// Fuzzing both decoders: the device-side stack AS BUNDLED (dist/device/protocol.js, run in
// the Espruino sandbox) and the host side (cbor-x codec). 100,000 random and mutated
// messages and frames: each must end in a typed error or a valid message, both sides must
// agree, nothing may hang, and memory stays bounded. Inputs that reach a new outcome are
// kept in test/corpus/link-decoder.json (FUZZ_UPDATE_CORPUS=1 rewrites it), and every
// corpus entry is replayed first as a regression test.

import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Sandbox } from '../../board/emulator/sandbox';
import { decodeHostMessage, encodeHostMessage } from '../../host/src/link/codec';
import { encodeFrame, FrameKind, FrameReader, MAX_ENCODED_FRAME } from '../../protocol/src/frame';
import { crc32 } from '../../protocol/src/crc32';
import { message } from '../helpers/arbitraries';

const ROOT = join(__dirname, '..', '..');
const BUNDLE = join(ROOT, 'dist', 'device', 'protocol.js');
const CORPUS = join(ROOT, 'test', 'corpus', 'link-decoder.json');
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100000);

interface Bundled {
  decodeMessage(b: Uint8Array, dir: string): { type: number; id: number };
  FrameReader: new (crc: (d: Uint8Array) => number, on: (f: { kind: number; payload: Uint8Array }) => void) => { push(b: Uint8Array): void; stats: Record<string, number> };
  crc32(d: Uint8Array): number;
}

function loadBundle(): { sb: Sandbox; P: Bundled } {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` first`);
  const sb = new Sandbox({ onConsole: () => {} });
  sb.run(readFileSync(BUNDLE, 'utf8'), 'protocol.js');
  const P = (sb.context as unknown as { SemperProtocol: Bundled }).SemperProtocol;
  if (!P || typeof P.decodeMessage !== 'function') throw new Error('protocol bundle did not define SemperProtocol');
  return { sb, P };
}

/** xorshift32: fast, seeded, reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const INTERESTING = [0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x40, 0x5b, 0x5f, 0x60, 0x7f, 0x80, 0x9b, 0x9f, 0xa0, 0xbb, 0xbf, 0xc0, 0xd8, 0xf4, 0xf6, 0xf7, 0xf9, 0xfb, 0xff];

function mutate(seed: Uint8Array, other: Uint8Array, rnd: () => number): Uint8Array {
  const a = Array.from(seed);
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n; k++) {
    const i = Math.floor(rnd() * (a.length + 1));
    switch (Math.floor(rnd() * 7)) {
      case 0: if (a.length) a[i % a.length] ^= 1 << Math.floor(rnd() * 8); break;
      case 1: if (a.length) a[i % a.length] = INTERESTING[Math.floor(rnd() * INTERESTING.length)]; break;
      case 2: a.splice(i, 0, Math.floor(rnd() * 256)); break;
      case 3: a.splice(i, 1 + Math.floor(rnd() * 4)); break;
      case 4: a.length = Math.floor(rnd() * a.length); break;
      case 5: a.splice(i, 0, ...a.slice(i, i + 1 + Math.floor(rnd() * 8))); break;
      default: a.splice(i, 0, ...Array.from(other.subarray(0, Math.floor(rnd() * other.length)))); break;
    }
  }
  return Uint8Array.from(a.slice(0, 2200));
}

/**
 * Outcome of one decode: 'ok:<type>', or 'err:<wire code>' with the CBOR refusal and
 * its byte offset, or the schema path — precise enough that device and host must agree
 * on where and why, not only whether.
 */
function outcome(f: () => { type: number }): string {
  try {
    return `ok:${f().type}`;
  } catch (e) {
    const me = e as { code?: unknown; path?: unknown; message?: unknown };
    if (me && typeof me === 'object' && typeof me.code === 'number') {
      const cbor = /^([A-Z_]+) at byte (-?\d+)/.exec(String(me.message));
      return `err:${me.code}${cbor ? `:${cbor[1]}@${cbor[2]}` : ''}${me.path ? `:${String(me.path)}` : ''}`;
    }
    return `UNTYPED:${String(e)}`;
  }
}

/**
 * What makes an input worth keeping in the corpus: its outcome without the byte offset
 * (message type, wire code, CBOR refusal and the field path all count; array indexes and
 * unknown keys above 99 or below 0 are one case each).
 */
const shape = (o: string): string => o.replace(/@\d+/g, '@N').replace(/\[\d+\]/g, '[N]').replace(/\.\d{3,}/g, '.N').replace(/\.-\d+/g, '.-N');

interface CorpusEntry {
  hex: string;
  outcome: string;
}

describe('fuzzing the link decoders', () => {
  const { sb, P } = loadBundle();
  afterAll(() => sb.stop());
  const corpus: CorpusEntry[] = existsSync(CORPUS) ? JSON.parse(readFileSync(CORPUS, 'utf8')).entries : [];
  const device = (b: Uint8Array): string => outcome(() => P.decodeMessage(sb.inContext(b), 'request'));
  const host = (b: Uint8Array): string => outcome(() => decodeHostMessage(b, 'request'));

  test('the corpus replays to its recorded outcomes on both decoders', () => {
    for (const e of corpus) {
      const b = new Uint8Array(Buffer.from(e.hex, 'hex'));
      expect([e.hex, device(b)]).toEqual([e.hex, e.outcome]);
      expect([e.hex, host(b)]).toEqual([e.hex, e.outcome]);
    }
  });

  test(`${ITERATIONS} random and mutated messages: typed outcomes only, both sides agree, memory bounded`, () => {
    const seeds: Uint8Array[] = fc
      .sample(message.filter(([dir]) => dir === 'request'), { numRuns: 300, seed: 42 })
      .map(([dir, type, id, body]) => encodeHostMessage(type, id, body, dir));
    for (const e of corpus) seeds.push(new Uint8Array(Buffer.from(e.hex, 'hex')));
    const rnd = prng(Number(process.env.FUZZ_SEED ?? 0x5e3de5));
    const seen = new Map<string, string>(corpus.map((e) => [shape(e.outcome), e.hex]));
    const fresh: CorpusEntry[] = [];
    const heap0 = process.memoryUsage().heapUsed;
    let untyped = 0;
    let disagreements = 0;
    let slowest = 0;
    const firstProblems: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      let input: Uint8Array;
      if (rnd() < 0.3) input = Uint8Array.from({ length: Math.floor(rnd() * (rnd() < 0.9 ? 24 : 600)) }, () => Math.floor(rnd() * 256));
      else input = mutate(seeds[Math.floor(rnd() * seeds.length)], seeds[Math.floor(rnd() * seeds.length)], rnd);
      const t = performance.now();
      const d = device(input);
      const h = host(input);
      slowest = Math.max(slowest, performance.now() - t);
      if (d.startsWith('UNTYPED') || h.startsWith('UNTYPED')) untyped++;
      if (d !== h) disagreements++;
      if ((d.startsWith('UNTYPED') || d !== h) && firstProblems.length < 5) firstProblems.push(`${Buffer.from(input).toString('hex')} device=${d} host=${h}`);
      if (!seen.has(shape(d))) {
        seen.set(shape(d), '');
        fresh.push({ hex: Buffer.from(input).toString('hex'), outcome: d });
      }
    }
    const heapGrowth = (process.memoryUsage().heapUsed - heap0) / 1048576;
    console.log(`fuzz: ${ITERATIONS} inputs, ${seen.size} distinct outcomes (${fresh.length} new), slowest ${slowest.toFixed(2)} ms, heap +${heapGrowth.toFixed(1)} MiB`);
    if (process.env.FUZZ_UPDATE_CORPUS === '1' && fresh.length) {
      const entries = [...corpus, ...fresh.filter((e) => !e.outcome.startsWith('UNTYPED') && host(new Uint8Array(Buffer.from(e.hex, 'hex'))) === e.outcome)];
      writeFileSync(CORPUS, JSON.stringify({ about: 'Inputs that reached a distinct decoder outcome (wire error code and path shape) while fuzzing; replayed by fuzz.test.ts.', entries }, null, 1) + '\n');
    }
    expect(firstProblems).toEqual([]);
    expect(untyped).toBe(0);
    expect(disagreements).toBe(0);
    // bounded: no input may make either decoder hold on to memory
    expect(heapGrowth).toBeLessThan(256);
  });

  test(`${ITERATIONS / 4} mutated frame streams: the bundled frame reader keeps bounded state and counts every drop`, () => {
    const rnd = prng(0xc0b5);
    const payloads = fc.sample(message, { numRuns: 50, seed: 7 }).map(([dir, type, id, body]) => encodeHostMessage(type, id, body, dir));
    let delivered = 0;
    const reader = new P.FrameReader(P.crc32, () => delivered++);
    const hostReader = new FrameReader(crc32, () => {});
    for (let i = 0; i < ITERATIONS / 4; i++) {
      const p = payloads[Math.floor(rnd() * payloads.length)];
      const wire = encodeFrame({ kind: FrameKind.DATA, seq: i & 0xff, ack: 0, payload: p }, crc32);
      const input = rnd() < 0.5 ? mutate(wire, wire, rnd) : wire;
      // deliver in random chunks, as a UART would
      for (let k = 0; k < input.length; ) {
        const n = 1 + Math.floor(rnd() * 64);
        const chunk = input.subarray(k, k + n);
        reader.push(sb.inContext(chunk));
        hostReader.push(chunk);
        k += n;
      }
    }
    // one long run of garbage without a delimiter: discarded, and the next frame still arrives
    const before = delivered;
    reader.push(sb.inContext(new Uint8Array(MAX_ENCODED_FRAME * 3).fill(0x55)));
    reader.push(sb.inContext(encodeFrame({ kind: FrameKind.ACK, seq: 0, ack: 0, payload: new Uint8Array(0) }, crc32)));
    expect(delivered).toBe(before + 1);
    const s = reader.stats;
    expect(s.frames).toBeGreaterThan(ITERATIONS / 8);
    expect(s.crcErrors + s.malformed).toBeGreaterThan(0);
    expect(s.oversize).toBeGreaterThan(0);
    expect(hostReader.stats.frames).toBe(s.frames - 1);
  });
});
