// npm run bench:link — figures for a typical payment confirmation over the link, each
// with its goal. Figures, not pass/fail: a slow machine must not fail the build.
//
// The exchange (ARCHITECTURE.md §6, steps 3-4, purse payment):
//   VERIFY_OFFER(certificate, signed offer) → STATUS 1/3 → response
//   SIGN(order statement)                   → STATUS 2/3 → response (signature)
//   PURSE_DEBIT(payment statement)          → STATUS 3/3 → response (payment token)
// run through two real Link instances (stop-and-wait, piggybacked acks), counting every
// byte on the line.

import { Encoder, Decoder } from 'cbor-x';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { Link } from '../protocol/src/link';
import { encodeMessage } from '../protocol/src/codec';
import { MsgType, StatementKind, DeviceState, msgTypeName } from '../protocol/src/messages';
import { encodeCanonical, Tag, toByteString } from '../shared/src/cbor';
import { decodeHostMessage, encodeHostMessage } from '../host/src/link/codec';

const BAUD = 115200;
const rnd = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + 7) & 0xff);

// --- realistic content -------------------------------------------------------------
const certificate = encodeCanonical(new Tag([
  encodeCanonical(new Map([[1, -7]])), new Map(),
  encodeCanonical(new Map<number, unknown>([
    [1, 'merchant:cd-rom-versand'], [2, 'CD-ROM Versand GmbH'], [3, new Map<number, unknown>([[1, 2], [-1, 1], [-2, rnd(32, 1)], [-3, rnd(32, 2)]])],
    [4, 'ca:semper-demo'], [5, 1795000000], [6, 1826536000], [7, 2],
  ]) as never),
  rnd(64, 3),
], 18) as never);
const offer = encodeCanonical(new Tag([
  encodeCanonical(new Map<number, unknown>([[1, -7], [4, rnd(8, 4)]]) as never), new Map(),
  encodeCanonical(new Map<number, unknown>([
    [1, 'deal-2026-11-24-0042'], [2, [['CD-ROM "SEMPER Trials 1998"', 1, [1250, 'EUR']]]], [3, [1250, 'EUR']],
    [4, 'merchant:cd-rom-versand'], [5, 1795600000], [6, 1797000000], [7, rnd(16, 5)],
  ]) as never),
  rnd(64, 6),
], 18) as never);
const offerDigest = rnd(32, 7);
const statement = (kind: number, title: string): Uint8Array => encodeCanonical(new Map<number, unknown>([
  [1, kind], [2, title], [3, [1250, 'EUR']], [4, 'CD-ROM Versand GmbH'], [5, offerDigest], [6, 'deal-2026-11-24-0042'],
  [7, 'CD-ROM "SEMPER Trials 1998", delivery by post'], [8, 1795600000],
]) as never);
const order = statement(StatementKind.DOCUMENT, 'Order');
const payment = statement(StatementKind.PAYMENT, 'Pay');
const token = encodeCanonical(new Tag([
  encodeCanonical(new Map([[1, -7]])), new Map(),
  encodeCanonical(new Map<number, unknown>([[1, rnd(8, 8)], [2, 41], [3, 'merchant:cd-rom-versand'], [4, [1250, 'EUR']], [5, rnd(32, 9)]]) as never),
  rnd(64, 10),
], 18) as never);

type Step = { dir: 'request' | 'response'; type: number; id: number; body: Record<string, unknown> };
const exchange: Step[] = [];
const op = (type: number, id: number, req: Record<string, unknown>, step: number, label: string, res: Record<string, unknown>): void => {
  exchange.push({ dir: 'request', type, id, body: req });
  exchange.push({ dir: 'response', type: MsgType.STATUS, id, body: { state: DeviceState.AWAITING_USER, card: true, step, steps: 3, label } });
  exchange.push({ dir: 'response', type, id, body: res });
};
op(MsgType.VERIFY_OFFER, 1, { certificate, offer }, 1, 'Verifying offer', { merchant: 'CD-ROM Versand GmbH', offerDigest, validUntil: 1797000000 });
op(MsgType.SIGN, 2, { statement: order, timeout: 120 }, 2, 'Confirm order', { protected: encodeCanonical(new Map([[1, -7]])), signature: rnd(64, 11), kid: rnd(8, 12) });
op(MsgType.PURSE_DEBIT, 3, { statement: payment, timeout: 120 }, 3, 'Paying', { token });

/** Content bytes of a body: string and byte-string contents, and each scalar's encoded size. */
function payloadBytes(v: unknown): number {
  if (v instanceof Uint8Array) return v.length;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || typeof v === 'boolean') return encodeCanonical(v).length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + payloadBytes(x), 0);
  if (v && typeof v === 'object') return Object.values(v).reduce((n: number, x) => n + payloadBytes(x), 0);
  return 0;
}

// --- the line -------------------------------------------------------------------
interface Counted { data: number; ack: number; frames: number }
function runExchange(): { wire: { host: Counted; device: Counted }; messages: number; cbor: number; ms: number } {
  // a virtual clock: line deliveries happen now, timers when their time comes
  let now = 0;
  let seq = 0;
  const events: { at: number; n: number; fn: () => void; dead?: boolean }[] = [];
  const at = (ms: number, fn: () => void) => {
    const e = { at: now + ms, n: seq++, fn };
    events.push(e);
    events.sort((a, b) => a.at - b.at || a.n - b.n);
    return e;
  };
  // each direction of the line carries one byte per 10 bit times (8N1): a frame
  // arrives when its last byte has been sent, after whatever was queued before it
  const busy = { toDevice: 0, toHost: 0 };
  const transmit = (dir: 'toDevice' | 'toHost', b: Uint8Array, deliver: (b: Uint8Array) => void): void => {
    const start = Math.max(now, busy[dir]);
    busy[dir] = start + (b.length * 10 * 1000) / BAUD;
    at(busy[dir] - now, () => deliver(b));
  };
  let finished = 0;
  const run = (): void => {
    // run until only the (cleared or far) retransmission timers remain
    while (events.length && events[0].at <= now + 100) {
      const e = events.shift()!;
      now = e.at;
      if (!e.dead) e.fn();
    }
  };
  const timers = { now: () => now, set: (fn: () => void, ms: number) => at(ms, fn), clear: (h: unknown) => { (h as { dead: boolean }).dead = true; } };
  const count = (): Counted => ({ data: 0, ack: 0, frames: 0 });
  const wire = { host: count(), device: count() };
  let cbor = 0;
  let messages = 0;
  // event-driven, as in a real payment: the device answers each request with a STATUS
  // (an EVENT frame, which also carries the ack) and the response; the host sends the
  // next request as soon as a response arrives, so its ack rides on that request
  const requests = exchange.filter((s) => s.dir === 'request');
  const encode = (s: Step): Uint8Array => {
    const b = s.dir === 'request' ? encodeHostMessage(s.type, s.id, s.body, s.dir) : encodeMessage(s.type, s.id, toDeviceForm(s.body), s.dir);
    cbor += b.length;
    messages++;
    return b;
  };
  let next = 0;
  const sendNextRequest = (): void => {
    if (next < requests.length) hostLink.send(encode(requests[next++]));
  };
  const hostLink: Link = new Link({
    write: (b) => transmit('toDevice', b, (x) => deviceLink.receive(x)), crc32: (d) => zlibCrc32(d), timers,
    onMessage: (_b, event) => {
      if (event) return;
      finished = now;
      sendNextRequest();
    },
    onTrace: (d, f, w) => { if (d === 'tx' && w) { wire.host.frames++; if (f.kind === 1) wire.host.ack += w.length; else wire.host.data += w.length; } },
  });
  const deviceLink: Link = new Link({
    write: (b) => transmit('toHost', b, (x) => hostLink.receive(x)), crc32: (d) => zlibCrc32(d), timers,
    onMessage: () => {
      const i = exchange.indexOf(requests[next - 1]);
      deviceLink.sendEvent(encode(exchange[i + 1])); // STATUS: an EVENT frame
      deviceLink.send(encode(exchange[i + 2]));
    },
    onTrace: (d, f, w) => { if (d === 'tx' && w) { wire.device.frames++; if (f.kind === 1) wire.device.ack += w.length; else wire.device.data += w.length; } },
  });
  // links start synchronised here: the handshake belongs to the session, not the payment
  sendNextRequest();
  run();
  return { wire, messages, cbor, ms: finished };
}

function toDeviceForm(body: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) o[k] = typeof v === 'string' ? toByteString(v) : v;
  return o;
}

// --- codec throughput ----------------------------------------------------------------
function perSecond(fn: () => void, ms = 1500): number {
  for (let i = 0; i < 2000; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

function main(): void {
  if (process.argv.includes('--help')) {
    console.log('usage: npm run bench:link [-- --detail]\nPrints wire bytes, overhead, line time and host codec speed for a typical payment confirmation, with goals.');
    return;
  }
  const r = runExchange();
  const payload = exchange.reduce((n, s) => n + payloadBytes(s.body), 0);
  const wireTotal = r.wire.host.data + r.wire.host.ack + r.wire.device.data + r.wire.device.ack;
  const framing = wireTotal - r.cbor;
  const encoding = r.cbor - payload;
  const overhead = (wireTotal - payload) / payload;
  const lineMs = (wireTotal * 10 * 1000) / BAUD;
  const physMs = (payload * 10 * 1000) / BAUD;
  const fmt = (x: number, d = 1): string => x.toFixed(d);
  const mark = (ok: boolean): string => (ok ? 'meets goal' : 'MISSES goal');

  console.log('bench:link — typical payment confirmation (VERIFY_OFFER, SIGN, PURSE_DEBIT with progress), 115,200 baud 8N1\n');
  console.log(`  messages                      ${r.messages} (${exchange.filter((s) => s.dir === 'request').length} requests, ${r.messages - exchange.filter((s) => s.dir === 'request').length} device messages)`);
  console.log(`  frames on the line            ${r.wire.host.frames + r.wire.device.frames} (host ${r.wire.host.frames}, device ${r.wire.device.frames}; acks ride on replies where they can)`);
  console.log(`  payload (content bytes)       ${payload} B`);
  console.log(`  CBOR messages                 ${r.cbor} B  (encoding overhead ${encoding} B = ${fmt((100 * encoding) / payload)}%)`);
  console.log(`  bytes on the wire             ${wireTotal} B  (framing + acks ${framing} B = ${fmt((100 * framing) / payload)}%)`);
  console.log(`  overhead, framing + encoding  ${fmt(100 * overhead)}% of payload        goal ≤ 15%      ${mark(overhead <= 0.15)}`);
  console.log(`  line time at 115,200 baud     ${fmt(lineMs)} ms of bytes; exchange done after ${fmt(r.ms)} ms (turnarounds, no processing time)`);
  console.log(`                                vs physical limit for the payload alone ${fmt(physMs)} ms: ×${fmt(r.ms / physMs, 2)}`);

  if (process.argv.includes('--detail')) {
    console.log('\n  per message                   CBOR  payload  encoding overhead');
    for (const s of exchange) {
      const n = encodeHostMessage(s.type, s.id, s.body, s.dir).length;
      const p = payloadBytes(s.body);
      console.log(`    ${(s.dir === 'request' ? '→ ' : '← ') + msgTypeName(s.type).padEnd(26)}${String(n).padStart(5)}  ${String(p).padStart(7)}  ${String(n - p).padStart(5)}`);
    }
    console.log('');
  }

  // host codec: encode + decode of each message of the exchange, checked and canonical
  const sample = exchange.map((s) => ({ s, bytes: encodeHostMessage(s.type, s.id, s.body, s.dir) }));
  let i = 0;
  const ours = perSecond(() => {
    const { s, bytes } = sample[i++ % sample.length];
    encodeHostMessage(s.type, s.id, s.body, s.dir);
    decodeHostMessage(bytes, s.dir);
  });
  // reference in the same run: raw cbor-x on the same envelopes, no canonical form, no checks
  const enc = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false } as never);
  const dec = new Decoder({ useRecords: false, mapsAsObjects: false } as never);
  const raw = sample.map(({ s }) => [s.type, s.id, new Map(Object.entries(s.body))]);
  const rawBytes = raw.map((v) => enc.encode(v));
  let j = 0;
  const ref = perSecond(() => {
    const k = j++ % raw.length;
    enc.encode(raw[k]);
    dec.decode(rawBytes[k]);
  });
  console.log(`  host codec encode+decode      ${Math.round(ours).toLocaleString('en')} msg/s on one core   goal ≥ 100,000   ${mark(ours >= 100000)}`);
  console.log(`    reference: raw cbor-x       ${Math.round(ref).toLocaleString('en')} msg/s (unchecked, not canonical) → ours is ${fmt(ours / ref, 2)}× of it`);
}

main();
