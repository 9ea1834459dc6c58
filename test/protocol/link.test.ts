// The reliable link (protocol/src/link.ts): two Link instances back to back on a virtual
// clock (test/helpers/virtual-clock.ts), with faults injected on the line.

import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { Link, LinkOptions, LinkResetReason } from '../../protocol/src/link';
import { crc32 } from '../../protocol/src/crc32';
import { encodeFrame, Frame, FrameKind, MAX_PAYLOAD } from '../../protocol/src/frame';
import { prng, VirtualClock, VirtualWire, WireFaults } from '../helpers/virtual-clock';

const SEED = 0x11ec;
const KIND = ['DATA', 'ACK', 'SYNC', 'SYNC_ACK'];

interface Traced {
  dir: 'tx' | 'rx';
  at: number;
  kind: number;
  seq: number;
  ack: number;
  payload: Uint8Array;
}

/** One end of the pair: its Link and everything it saw. */
interface End {
  link: Link;
  got: Uint8Array[];
  resets: { reason: LinkResetReason; dropped: number; at: number }[];
  synced: number;
  trace: Traced[];
  /** Frames this end put on the line, by kind name. */
  tx(kind: number): Traced[];
}

interface Pair {
  clock: VirtualClock;
  a: End;
  b: End;
  ab: VirtualWire;
  ba: VirtualWire;
  /** Replaces one end with a fresh Link on the same wires (a reboot). */
  reboot(which: 'a' | 'b', opts?: Partial<LinkOptions>): End;
}

function makeEnd(clock: VirtualClock, out: VirtualWire, inp: VirtualWire, nonces: () => number, opts: Partial<LinkOptions>, crc: (d: Uint8Array) => number): End {
  const end: End = {
    link: null as unknown as Link,
    got: [],
    resets: [],
    synced: 0,
    trace: [],
    tx: (kind) => end.trace.filter((t) => t.dir === 'tx' && t.kind === kind),
  };
  end.link = new Link({
    write: out.write,
    crc32: crc,
    timers: clock,
    random32: nonces,
    onMessage: (p) => end.got.push(p),
    onReset: (reason, dropped) => end.resets.push({ reason, dropped, at: clock.now() }),
    onSynced: () => end.synced++,
    onTrace: (dir, f: Frame) => end.trace.push({ dir, at: clock.now(), kind: f.kind, seq: f.seq, ack: f.ack, payload: f.payload }),
    ...opts,
  });
  inp.connect((bytes) => end.link.receive(bytes));
  return end;
}

function pair(seed: number, faultsAB: WireFaults = {}, faultsBA: WireFaults = faultsAB, opts: Partial<LinkOptions> = {}): Pair {
  const clock = new VirtualClock();
  const rnd = prng(seed);
  const ab = new VirtualWire(clock, prng(seed ^ 0x1234567), faultsAB);
  const ba = new VirtualWire(clock, prng(seed ^ 0x7654321), faultsBA);
  const nonces = (): number => Math.floor(rnd() * 4294967296);
  // the two ends use different CRC implementations: the table one and zlib's
  const p: Pair = {
    clock,
    ab,
    ba,
    a: makeEnd(clock, ab, ba, nonces, opts, crc32),
    b: makeEnd(clock, ba, ab, nonces, opts, (d) => zlibCrc32(d)),
    reboot(which, o = {}) {
      const old = p[which];
      old.link.close();
      const fresh = which === 'a' ? makeEnd(clock, ab, ba, nonces, { ...opts, ...o }, crc32) : makeEnd(clock, ba, ab, nonces, { ...opts, ...o }, (d) => zlibCrc32(d));
      p[which] = fresh;
      return fresh;
    },
  };
  return p;
}

/** A synchronises, both come up; then the line is left to go quiet. */
function handshake(p: Pair, maxMs = 120000): void {
  p.a.link.sync();
  const up = p.clock.runUntil(() => p.a.synced > 0 && !p.a.link.syncing, maxMs);
  if (!up) throw new Error(`handshake did not complete in ${maxMs} ms of virtual time`);
  // let stale copies of SYNC (duplicated, held back) drain before data flows
  p.clock.advance(2000);
  expect(p.a.link.syncing).toBe(false);
  expect(p.b.link.syncing).toBe(false);
  expect(p.b.synced).toBeGreaterThan(0);
  p.a.resets.length = 0;
  p.b.resets.length = 0;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function sameMessages(what: string, got: Uint8Array[], sent: Uint8Array[]): void {
  if (got.length !== sent.length) throw new Error(`${what}: delivered ${got.length} of ${sent.length} messages`);
  for (let i = 0; i < sent.length; i++) {
    if (Buffer.compare(got[i], sent[i]) !== 0) throw new Error(`${what}: message ${i} differs: got ${hex(got[i]).slice(0, 40)} want ${hex(sent[i]).slice(0, 40)}`);
  }
}

/**
 * Each side offers its messages one after the other at random moments; a full queue
 * is retried later. Runs until everything is delivered and acknowledged.
 */
function exchange(p: Pair, fromA: Uint8Array[], fromB: Uint8Array[], seed: number, maxMs = 3600000): boolean {
  const rnd = prng(seed);
  const offer = (end: () => End, msgs: Uint8Array[], i: number): void => {
    if (i >= msgs.length) return;
    if (end().link.send(msgs[i])) {
      // often in bursts, sometimes spaced beyond the ack delay
      const gap = rnd() < 0.5 ? 0 : rnd() * 60;
      p.clock.schedule(() => offer(end, msgs, i + 1), gap);
    } else p.clock.schedule(() => offer(end, msgs, i), 5 + rnd() * 20);
  };
  p.clock.schedule(() => offer(() => p.a, fromA, 0), rnd() * 10);
  p.clock.schedule(() => offer(() => p.b, fromB, 0), rnd() * 10);
  return p.clock.runUntil(
    () => p.b.got.length >= fromA.length && p.a.got.length >= fromB.length && p.a.link.pending === 0 && p.b.link.pending === 0,
    maxMs,
  );
}

// ------------------------------------------------------------------ properties

// 0..40 messages per direction, mostly small, some up to MAX_PAYLOAD ('max': uniform sizes,
// not fast-check's default bias towards tiny arrays)
const messages = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40, size: 'max' }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: MAX_PAYLOAD, size: 'max' }) },
  ),
  { maxLength: 40, size: 'max' },
);

interface Totals {
  runs: number;
  retransmissions: number;
  duplicates: number;
  crcErrors: number;
  malformed: number;
  outOfOrder: number;
  dropped: number;
  duplicated: number;
  corrupted: number;
  noise: number;
  reordered: number;
  chunks: number;
  writes: number;
}

function runProperty(name: string, faults: WireFaults, numRuns: number): Totals {
  const t: Totals = { runs: 0, retransmissions: 0, duplicates: 0, crcErrors: 0, malformed: 0, outOfOrder: 0, dropped: 0, duplicated: 0, corrupted: 0, noise: 0, reordered: 0, chunks: 0, writes: 0 };
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0x7fffffff }), messages, messages, (seed, fromA, fromB) => {
      // many retries: under heavy loss the link must not give up (a give-up is a reset, tested apart)
      const p = pair(seed, faults, faults, { maxRetries: 60, rto: 100 });
      handshake(p);
      const done = exchange(p, fromA, fromB, seed + 1);
      if (!done) throw new Error(`${name}: not delivered: A got ${p.a.got.length}/${fromB.length}, B got ${p.b.got.length}/${fromA.length}`);
      // acks of the last messages may still be on their way: nothing more may arrive
      p.clock.advance(5000);
      sameMessages(`${name} A->B`, p.b.got, fromA);
      sameMessages(`${name} B->A`, p.a.got, fromB);
      if (p.a.resets.length || p.b.resets.length) throw new Error(`${name}: link reset during the exchange: ${JSON.stringify([p.a.resets, p.b.resets])}`);
      expect(p.a.link.stats.received).toBe(fromB.length);
      expect(p.b.link.stats.received).toBe(fromA.length);
      t.runs++;
      for (const e of [p.a, p.b]) {
        t.retransmissions += e.link.stats.retransmissions;
        t.duplicates += e.link.stats.duplicates;
        t.outOfOrder += e.link.stats.outOfOrder;
        t.crcErrors += e.link.frameStats.crcErrors;
        t.malformed += e.link.frameStats.malformed;
      }
      for (const w of [p.ab, p.ba]) {
        t.dropped += w.stats.dropped;
        t.duplicated += w.stats.duplicated;
        t.corrupted += w.stats.corrupted;
        t.noise += w.stats.noise;
        t.reordered += w.stats.reordered;
        t.chunks += w.stats.chunks;
        t.writes += w.stats.writes;
      }
    }),
    { seed: SEED, numRuns },
  );
  expect(t.runs).toBe(numRuns);
  return t;
}

describe('Link: in-order exactly-once delivery under faults (properties, virtual clock)', () => {
  it('on a clean line', () => {
    const t = runProperty('clean', {}, 50);
    expect(t.runs).toBe(50);
    expect(t.retransmissions).toBe(0);
    expect(t.duplicates).toBe(0);
    expect(t.crcErrors + t.malformed).toBe(0);
  });

  it('with frames dropped: retransmissions recover them', () => {
    const t = runProperty('drop', { drop: 0.25 }, 200);
    expect(t.dropped).toBeGreaterThan(0);
    expect(t.retransmissions).toBeGreaterThan(0);
  });

  it('with bits flipped: CRC errors are dropped and retransmitted', () => {
    const t = runProperty('corrupt', { corrupt: 0.25 }, 200);
    expect(t.corrupted).toBeGreaterThan(0);
    expect(t.crcErrors + t.malformed).toBeGreaterThan(0);
    expect(t.retransmissions).toBeGreaterThan(0);
  });

  it('with frames duplicated: duplicates are suppressed', () => {
    const t = runProperty('duplicate', { duplicate: 0.3 }, 200);
    expect(t.duplicated).toBeGreaterThan(0);
    expect(t.duplicates).toBeGreaterThan(0);
  });

  it('with noise between frames', () => {
    const t = runProperty('noise', { noise: 0.4 }, 200);
    expect(t.noise).toBeGreaterThan(0);
  });

  it('with frames reordered (held back and overtaken)', () => {
    const t = runProperty('reorder', { reorder: 0.3, reorderMs: 200 }, 200);
    expect(t.reordered).toBeGreaterThan(0);
  });

  it('with writes split into random chunk sizes', () => {
    const t = runProperty('split', { split: 7 }, 200);
    expect(t.chunks).toBeGreaterThan(t.writes * 2);
    expect(t.crcErrors + t.malformed).toBe(0);
  });

  it('with all faults at once', () => {
    const t = runProperty('all', { drop: 0.15, corrupt: 0.1, duplicate: 0.15, noise: 0.2, reorder: 0.1, reorderMs: 150, split: 16, latencyMs: 3 }, 300);
    expect(t.dropped).toBeGreaterThan(0);
    expect(t.corrupted).toBeGreaterThan(0);
    expect(t.duplicated).toBeGreaterThan(0);
    expect(t.reordered).toBeGreaterThan(0);
    expect(t.retransmissions).toBeGreaterThan(0);
    expect(t.duplicates).toBeGreaterThan(0);
  });
});

// ------------------------------------------------------------------ acknowledgement

describe('Link: acknowledgements', () => {
  const ACK_DELAY = 20;

  it('piggybacks the ack on a response sent within ackDelay: no bare ACK frame', () => {
    for (const after of [0, ACK_DELAY / 2, ACK_DELAY - 1]) {
      const p = pair(1, {}, {}, { ackDelay: ACK_DELAY });
      handshake(p);
      p.a.link.send(Uint8Array.from([1, 2, 3]));
      p.clock.runUntil(() => p.b.got.length === 1);
      // B answers `after` ms after the request arrived
      const respond = (): void => {
        p.b.link.send(Uint8Array.from([0]));
      };
      if (after === 0) respond();
      else p.clock.schedule(respond, after);
      p.clock.runUntilIdle();
      expect(p.a.got.map(hex)).toEqual(['00']);
      // B sent exactly one frame after the handshake: DATA carrying the ack of A's DATA
      const aData = p.a.tx(FrameKind.DATA);
      const bData = p.b.tx(FrameKind.DATA);
      expect(aData).toHaveLength(1);
      expect(bData).toHaveLength(1);
      expect(bData[0].ack).toBe(aData[0].seq);
      expect({ after, bareAcks: p.b.tx(FrameKind.ACK).length }).toEqual({ after, bareAcks: 0 });
      // A's DATA was acknowledged by it: no retransmission
      expect(p.a.link.stats.retransmissions).toBe(0);
      // A has nothing to carry its own ack: one bare ACK, ackDelay after B's DATA arrived
      const aAcks = p.a.tx(FrameKind.ACK);
      expect(aAcks).toHaveLength(1);
      expect(aAcks[0].ack).toBe(bData[0].seq);
      const bDataRx = p.a.trace.find((t) => t.dir === 'rx' && t.kind === FrameKind.DATA) as Traced;
      expect(aAcks[0].at - bDataRx.at).toBe(ACK_DELAY);
    }
  });

  it('answers later than ackDelay with a bare ACK first, then the DATA', () => {
    const p = pair(1, {}, {}, { ackDelay: ACK_DELAY });
    handshake(p);
    p.a.link.send(Uint8Array.from([1]));
    p.clock.runUntil(() => p.b.got.length === 1);
    p.clock.schedule(() => p.b.link.send(Uint8Array.from([2])), 2 * ACK_DELAY);
    p.clock.runUntilIdle();
    const bTx = p.b.trace.filter((t) => t.dir === 'tx' && (t.kind === FrameKind.DATA || t.kind === FrameKind.ACK));
    expect(bTx.map((t) => KIND[t.kind])).toEqual(['ACK', 'DATA']);
    expect(p.a.got.map(hex)).toEqual(['02']);
  });

  it('sends a bare ACK after ackDelay when nothing else is sent, and not before', () => {
    const p = pair(2, {}, {}, { ackDelay: ACK_DELAY });
    handshake(p);
    p.a.link.send(Uint8Array.from([9]));
    p.clock.runUntil(() => p.b.got.length === 1);
    const arrived = p.clock.now();
    p.clock.advance(ACK_DELAY - 1);
    expect(p.b.tx(FrameKind.ACK)).toHaveLength(0);
    expect(p.a.link.pending).toBe(1);
    p.clock.advance(1);
    const acks = p.b.tx(FrameKind.ACK);
    expect(acks).toHaveLength(1);
    expect(acks[0].at).toBe(arrived + ACK_DELAY);
    expect(acks[0].ack).toBe(p.a.tx(FrameKind.DATA)[0].seq);
    expect(acks[0].payload.length).toBe(0);
    p.clock.runUntilIdle();
    expect(p.a.link.pending).toBe(0);
    expect(p.a.link.stats.retransmissions).toBe(0);
    expect(p.b.tx(FrameKind.ACK)).toHaveLength(1);
  });

  it('acknowledges a duplicate at once and delivers it only once', () => {
    const p = pair(3, {}, {}, { ackDelay: ACK_DELAY });
    handshake(p);
    p.a.link.send(Uint8Array.from([1]));
    p.clock.runUntilIdle();
    const data = p.a.tx(FrameKind.DATA)[0];
    const wire = encodeFrame({ kind: FrameKind.DATA, seq: data.seq, ack: data.ack, payload: data.payload }, crc32);
    expect(p.ab.written.some((w) => hex(w) === hex(wire))).toBe(true);
    const acksBefore = p.b.tx(FrameKind.ACK).length;
    p.b.link.receive(wire);
    expect(p.b.got).toHaveLength(1);
    expect(p.b.link.stats.duplicates).toBe(1);
    const acks = p.b.tx(FrameKind.ACK);
    expect(acks).toHaveLength(acksBefore + 1);
    expect(acks[acks.length - 1].at).toBe(p.clock.now());
    expect(acks[acks.length - 1].ack).toBe(data.seq);
  });
});

// ------------------------------------------------------------------ limits

describe('Link: limits', () => {
  it('refuses messages beyond maxQueue with false and queues nothing', () => {
    const p = pair(4, {}, {}, { maxQueue: 3 });
    // while syncing everything waits in the queue
    p.a.link.sync();
    const m = (i: number): Uint8Array => Uint8Array.from([i]);
    expect([1, 2, 3].map((i) => p.a.link.send(m(i)))).toEqual([true, true, true]);
    expect(p.a.link.send(m(4))).toBe(false);
    expect(p.a.link.pending).toBe(3);
    p.clock.runUntilIdle();
    expect(p.b.got.map(hex)).toEqual(['01', '02', '03']);
    // when up: one outstanding plus maxQueue waiting
    expect([5, 6, 7, 8].map((i) => p.a.link.send(m(i)))).toEqual([true, true, true, true]);
    expect(p.a.link.send(m(9))).toBe(false);
    expect(p.a.link.pending).toBe(4);
    p.clock.runUntilIdle();
    expect(p.b.got.map(hex)).toEqual(['01', '02', '03', '05', '06', '07', '08']);
  });

  it('has a default queue of 8', () => {
    const p = pair(5);
    p.a.link.sync();
    const ok = Array.from({ length: 10 }, (_, i) => p.a.link.send(Uint8Array.from([i])));
    expect(ok).toEqual([true, true, true, true, true, true, true, true, false, false]);
  });

  it('throws {code: TOO_LARGE} for a message larger than MAX_PAYLOAD and carries one of exactly MAX_PAYLOAD', () => {
    const p = pair(6);
    handshake(p);
    let thrown: unknown;
    try {
      p.a.link.send(new Uint8Array(MAX_PAYLOAD + 1));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ code: 'TOO_LARGE' });
    expect(p.a.link.pending).toBe(0);
    const big = new Uint8Array(MAX_PAYLOAD).map((_, i) => (i * 31 + 7) & 0xff);
    expect(p.a.link.send(big)).toBe(true);
    p.clock.runUntilIdle();
    expect(p.b.got.map(hex)).toEqual([hex(big)]);
  });
});

// ------------------------------------------------------------------ handshake and resets

describe('Link: SYNC handshake and resets', () => {
  it('delivers nothing before the handshake completes, then delivers', () => {
    const clock = new VirtualClock();
    const got: Uint8Array[] = [];
    const out: Frame[] = [];
    let synced = 0;
    const link = new Link({
      write: () => {},
      crc32,
      timers: clock,
      random32: () => 0xdeadbeef,
      onMessage: (p) => got.push(p),
      onSynced: () => synced++,
      onTrace: (dir, f) => dir === 'tx' && out.push(f),
    });
    link.sync();
    expect(link.syncing).toBe(true);
    expect(out.map((f) => KIND[f.kind])).toEqual(['SYNC']);
    expect(hex(out[0].payload)).toBe('deadbeef');
    // messages wait: nothing but SYNC goes out
    expect(link.send(Uint8Array.from([0x42]))).toBe(true);
    // a DATA frame from the peer is ignored while syncing, even with the expected seq
    link.receive(encodeFrame({ kind: FrameKind.DATA, seq: 0, ack: 255, payload: Uint8Array.from([1]) }, crc32));
    // a SYNC_ACK with the wrong nonce does not complete the handshake
    link.receive(encodeFrame({ kind: FrameKind.SYNC_ACK, seq: 0, ack: 255, payload: Uint8Array.from([0xde, 0xad, 0xbe, 0xee]) }, crc32));
    expect(got).toHaveLength(0);
    expect(link.syncing).toBe(true);
    expect(synced).toBe(0);
    expect(out.map((f) => KIND[f.kind])).toEqual(['SYNC']);
    // the SYNC is repeated while unanswered
    clock.advance(1000);
    expect(out.filter((f) => f.kind === FrameKind.SYNC).length).toBeGreaterThan(1);
    expect(out.every((f) => f.kind === FrameKind.SYNC)).toBe(true);
    // the right SYNC_ACK completes it: the queued message leaves with seq 0
    link.receive(encodeFrame({ kind: FrameKind.SYNC_ACK, seq: 0, ack: 255, payload: Uint8Array.from([0xde, 0xad, 0xbe, 0xef]) }, crc32));
    expect(link.syncing).toBe(false);
    expect(synced).toBe(1);
    const data = out.filter((f) => f.kind === FrameKind.DATA);
    expect(data.map((f) => [f.seq, hex(f.payload)])).toEqual([[0, '42']]);
    link.receive(encodeFrame({ kind: FrameKind.DATA, seq: 0, ack: 0, payload: Uint8Array.from([1]) }, crc32));
    expect(got.map(hex)).toEqual(['01']);
    expect(link.pending).toBe(0);
    link.close();
    expect(clock.pending).toBe(0);
  });

  it('converges when both sides sync at once (any offset, property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x7fffffff }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 10 }), (seed, offset, latency) => {
        const p = pair(seed, { latencyMs: latency });
        p.a.link.sync();
        p.clock.schedule(() => p.b.link.sync(), offset);
        p.clock.runUntilIdle();
        expect(p.a.link.syncing).toBe(false);
        expect(p.b.link.syncing).toBe(false);
        expect(p.a.synced).toBeGreaterThan(0);
        expect(p.b.synced).toBeGreaterThan(0);
        const fromA = Array.from({ length: 5 }, (_, i) => Uint8Array.from([0xa0, i]));
        const fromB = Array.from({ length: 5 }, (_, i) => Uint8Array.from([0xb0, i]));
        expect(exchange(p, fromA, fromB, seed)).toBe(true);
        p.clock.runUntilIdle();
        sameMessages('A->B', p.b.got, fromA);
        sameMessages('B->A', p.a.got, fromB);
        expect(p.a.link.stats.retransmissions + p.b.link.stats.retransmissions).toBe(0);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('a peer reboot resets the other side with the right dropped count; messages flow again', () => {
    const p = pair(7);
    handshake(p);
    const before = [Uint8Array.from([1]), Uint8Array.from([2])];
    expect(exchange(p, before, [Uint8Array.from([0xb1])], 7)).toBe(true);
    // B dies: nothing reaches it any more; A queues three messages (one outstanding)
    p.ab.cut = true;
    for (const x of [3, 4, 5]) expect(p.a.link.send(Uint8Array.from([x]))).toBe(true);
    p.clock.advance(600); // a few retransmissions, well before A would give up
    expect(p.a.link.pending).toBe(3);
    expect(p.a.link.stats.retransmissions).toBeGreaterThan(0);
    expect(p.a.resets).toEqual([]);
    // B comes back as a new instance and announces itself
    p.ab.cut = false;
    const b2 = p.reboot('b');
    b2.link.sync();
    p.clock.runUntil(() => !b2.link.syncing);
    expect(p.a.resets.map((r) => [r.reason, r.dropped])).toEqual([['peer', 3]]);
    expect(p.a.link.pending).toBe(0);
    expect(p.a.link.stats.resets).toBe(1);
    expect(b2.synced).toBe(1);
    expect(b2.got).toEqual([]);
    // the old messages are gone; new ones flow both ways, in order, from seq 0
    const fromA = [6, 7, 8].map((x) => Uint8Array.from([x]));
    const fromB = [0xb2, 0xb3].map((x) => Uint8Array.from([x]));
    const gotBefore = p.a.got.length;
    expect(exchange(p, fromA, fromB, 8)).toBe(true);
    sameMessages('A->B2', b2.got, fromA);
    sameMessages('B2->A', p.a.got.slice(gotBefore), fromB);
    expect(p.a.tx(FrameKind.DATA).filter((t) => hex(t.payload) === '06')[0].seq).toBe(0);
  });

  it('declares the link lost after maxRetries, resets with the dropped count, and keeps sending SYNC with backoff', () => {
    const RTO = 100;
    const p = pair(8, {}, {}, { rto: RTO, maxRetries: 6 });
    handshake(p);
    p.ab.cut = true;
    p.ba.cut = true;
    const t0 = p.clock.now();
    for (const x of [1, 2, 3]) p.a.link.send(Uint8Array.from([x]));
    p.clock.runUntil(() => p.a.resets.length > 0, 60000);
    expect(p.a.resets.map((r) => [r.reason, r.dropped])).toEqual([['timeout', 3]]);
    expect(p.a.link.stats.retransmissions).toBe(6);
    expect(p.a.link.stats.resets).toBe(1);
    expect(p.a.link.pending).toBe(0);
    expect(p.a.link.syncing).toBe(true);
    // the same DATA frame went out 1 + maxRetries times, with gaps doubling up to 8x
    const data = p.a.tx(FrameKind.DATA).filter((t) => t.at >= t0);
    expect(data).toHaveLength(7);
    expect(new Set(data.map((d) => d.seq)).size).toBe(1);
    const gaps = data.slice(1).map((d, i) => d.at - data[i].at);
    expect(gaps[0]).toBeGreaterThanOrEqual(RTO);
    expect(gaps.map((g) => g / gaps[0])).toEqual([1, 2, 4, 8, 8, 8]);
    // and the link was declared lost one (capped) timeout after the last one
    expect(p.a.resets[0].at - data[data.length - 1].at).toBe(8 * gaps[0]);
    // SYNC attempts continue, doubling, capped, without end
    const syncsFrom = p.a.tx(FrameKind.SYNC).length - 1;
    p.clock.advance(60000);
    const syncs = p.a.tx(FrameKind.SYNC).slice(syncsFrom);
    expect(syncs.length).toBeGreaterThan(8);
    const sgaps = syncs.slice(1).map((s, i) => s.at - syncs[i].at);
    expect(sgaps[0]).toBeGreaterThanOrEqual(RTO);
    for (let i = 1; i < sgaps.length; i++) expect(sgaps[i]).toBe(Math.min(2 * sgaps[i - 1], 8 * sgaps[0]));
    expect(sgaps[sgaps.length - 1]).toBe(8 * sgaps[0]);
    // no further reset is reported while it waits, and nothing was delivered
    expect(p.a.resets).toHaveLength(1);
    expect(p.b.got).toEqual([]);
    // the peer comes back: the next SYNC gets through and messages flow again
    p.ab.cut = false;
    p.ba.cut = false;
    p.clock.runUntil(() => !p.a.link.syncing, 60000);
    expect(p.a.synced).toBe(2);
    expect(p.b.resets.map((r) => r.reason)).toEqual(['peer']);
    expect(exchange(p, [Uint8Array.from([0x61])], [Uint8Array.from([0x62])], 9)).toBe(true);
    expect(p.b.got.map(hex)).toEqual(['61']);
    expect(p.a.got.map(hex)).toEqual(['62']);
  });

  it('keeps a message sent from onReset(timeout) and delivers it after the resync', () => {
    // The reset callback is where an application re-sends (the host's DeviceLink starts
    // its next queued request there). send() returns true, so the message must not vanish.
    let accepted: boolean | undefined;
    let dropped = -1;
    const resend = Uint8Array.from([0x77]);
    const p: Pair = pair(9, {}, {}, {
      rto: 100,
      maxRetries: 2,
      onReset: (reason, n) => {
        if (reason !== 'timeout') return;
        dropped = n;
        accepted = p.a.link.send(resend);
      },
    });
    handshake(p);
    p.ab.cut = true;
    p.a.link.send(Uint8Array.from([0x01]));
    p.clock.runUntil(() => accepted !== undefined, 60000);
    expect(dropped).toBe(1);
    expect(accepted).toBe(true);
    expect(p.a.link.pending).toBe(1);
    p.ab.cut = false;
    p.clock.runUntilIdle(60000);
    expect(p.a.link.syncing).toBe(false);
    expect(p.b.got.map(hex)).toEqual(['77']);
  });

  it('wraps the 8-bit sequence number beyond 256 messages', () => {
    const p = pair(10);
    handshake(p);
    const fromA = Array.from({ length: 600 }, (_, i) => Uint8Array.from([i & 0xff, i >> 8]));
    const fromB = Array.from({ length: 300 }, (_, i) => Uint8Array.from([0xbb, i & 0xff, i >> 8]));
    expect(exchange(p, fromA, fromB, 10)).toBe(true);
    sameMessages('A->B', p.b.got, fromA);
    sameMessages('B->A', p.a.got, fromB);
    const seqs = p.a.tx(FrameKind.DATA).map((t) => t.seq);
    expect(seqs).toEqual(fromA.map((_, i) => i & 0xff));
    expect(p.a.link.stats.retransmissions).toBe(0);
  });

  it('wraps the sequence number under all faults too', () => {
    const p = pair(11, { drop: 0.1, corrupt: 0.05, duplicate: 0.1, noise: 0.1, reorder: 0.05, split: 12 }, undefined, { maxRetries: 60, rto: 100 });
    handshake(p);
    const fromA = Array.from({ length: 520 }, (_, i) => Uint8Array.from([i & 0xff, i >> 8, 0x5a]));
    const fromB = Array.from({ length: 270 }, (_, i) => Uint8Array.from([0xbb, i & 0xff, i >> 8]));
    expect(exchange(p, fromA, fromB, 11)).toBe(true);
    sameMessages('A->B', p.b.got, fromA);
    sameMessages('B->A', p.a.got, fromB);
    expect(p.a.resets).toEqual([]);
    expect(p.b.resets).toEqual([]);
    expect(p.a.link.stats.retransmissions + p.b.link.stats.retransmissions).toBeGreaterThan(0);
    expect(p.a.link.stats.duplicates + p.b.link.stats.duplicates).toBeGreaterThan(0);
  });
});
