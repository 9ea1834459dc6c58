// Framing layer: CRC-32, COBS and the frame reader (protocol/src/{crc32,cobs,frame}.ts).

import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32 } from '../../protocol/src/crc32';
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from '../../protocol/src/cobs';
import {
  encodeFrame,
  Frame,
  FrameKind,
  FrameKindValue,
  FrameReader,
  FrameStats,
  FRAME_HEADER,
  FRAME_TRAILER,
  LINK_VERSION,
  MAX_ENCODED_FRAME,
  MAX_PAYLOAD,
} from '../../protocol/src/frame';

const SEED = 0x5e4b1;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (...parts: (number | number[])[]): Uint8Array => Uint8Array.from(parts.flat());
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const concat = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

describe('crc32', () => {
  it('has the CRC-32/ISO-HDLC check value: "123456789" -> 0xCBF43926', () => {
    expect(crc32(Buffer.from('123456789', 'ascii'))).toBe(0xcbf43926);
  });

  it('is 0 for no data and unsigned for every input', () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    // 0xff bytes give a CRC with the top bit set: must come back unsigned
    const c = crc32(new Uint8Array(4).fill(0xff));
    expect(c).toBe(zlibCrc32(new Uint8Array(4).fill(0xff)));
    expect(c).toBeGreaterThanOrEqual(0);
  });

  it('equals zlib crc32 on random data (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (d) => {
        expect(crc32(d)).toBe(zlibCrc32(d) >>> 0);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('COBS', () => {
  // Vectors of the COBS paper (Cheshire & Baker 1999) as tabulated on Wikipedia
  const vectors: [string, number[], number[]][] = [
    ['00', [0x00], [0x01, 0x01]],
    ['00 00', [0x00, 0x00], [0x01, 0x01, 0x01]],
    ['00 11 00', [0x00, 0x11, 0x00], [0x01, 0x02, 0x11, 0x01]],
    ['11 22 00 33', [0x11, 0x22, 0x00, 0x33], [0x03, 0x11, 0x22, 0x02, 0x33]],
    ['11 22 33 44', [0x11, 0x22, 0x33, 0x44], [0x05, 0x11, 0x22, 0x33, 0x44]],
    ['11 00 00 00', [0x11, 0x00, 0x00, 0x00], [0x02, 0x11, 0x01, 0x01, 0x01]],
    ['01..FF', range(1, 0xff), [0xff, ...range(1, 0xfe), 0x02, 0xff]],
    ['02..FF 00', [...range(2, 0xff), 0x00], [0xff, ...range(2, 0xff), 0x01, 0x01]],
    ['03..FF 00 01', [...range(3, 0xff), 0x00, 0x01], [0xfe, ...range(3, 0xff), 0x02, 0x01]],
  ];

  it.each(vectors)('encodes %s as in the paper and decodes it back', (_name, data, enc) => {
    expect(hex(cobsEncode(Uint8Array.from(data)))).toBe(hex(Uint8Array.from(enc)));
    expect(hex(cobsDecode(Uint8Array.from(enc)) as Uint8Array)).toBe(hex(Uint8Array.from(data)));
  });

  it('encodes the empty input as 01 and decodes 01 to nothing', () => {
    expect(hex(cobsEncode(new Uint8Array(0)))).toBe('01');
    expect(cobsDecode(bytes(0x01))).toEqual(new Uint8Array(0));
  });

  // Wikipedia lists 01..FE (254 bytes) as FF 01..FE and 00 01..FE as 01 FF 01..FE. Our
  // encoder opens a new block after every full 254-byte run and so appends a trailing 01
  // in both cases (the "phantom zero" form: one byte longer, still within
  // cobsMaxEncodedLength). Both forms must decode to the same data.
  const fullRun: [string, number[], number[]][] = [
    ['01..FE', range(1, 0xfe), [0xff, ...range(1, 0xfe)]],
    ['00 01..FE', [0x00, ...range(1, 0xfe)], [0x01, 0xff, ...range(1, 0xfe)]],
  ];

  it.each(fullRun)('%s: the encoder appends a trailing 01; the paper form and ours both decode', (_name, data, paper) => {
    const d = Uint8Array.from(data);
    const ours = cobsEncode(d);
    expect(hex(ours)).toBe(hex(bytes(paper, 0x01)));
    expect(ours.length).toBe(cobsMaxEncodedLength(d.length));
    expect(hex(cobsDecode(ours) as Uint8Array)).toBe(hex(d));
    expect(hex(cobsDecode(Uint8Array.from(paper)) as Uint8Array)).toBe(hex(d));
  });

  it('refuses invalid blocks: a 0x00 inside, a code pointing past the end', () => {
    expect(cobsDecode(bytes(0x03, 0x11, 0x00))).toBeNull();
    expect(cobsDecode(bytes(0x00))).toBeNull();
    expect(cobsDecode(bytes(0x05, 0x11, 0x22))).toBeNull();
    expect(cobsDecode(bytes(0x02, 0x11, 0x04, 0x22))).toBeNull();
  });

  const runs = fc.oneof(
    fc.uint8Array({ maxLength: 1200 }),
    // long runs of non-zero bytes around the 254/255 block boundary
    fc.integer({ min: 250, max: 770 }).map((n) => new Uint8Array(n).map((_, i) => 1 + (i % 255))),
    fc.tuple(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 1, max: 255 })).map(([n, v]) => new Uint8Array(n).fill(v)),
    fc.integer({ min: 0, max: 600 }).map((n) => new Uint8Array(n)), // all zero
    fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 255 })), { maxLength: 800 }).map((a) => Uint8Array.from(a)),
    fc
      .array(fc.tuple(fc.constantFrom(253, 254, 255, 256, 508, 509), fc.boolean()), { minLength: 1, maxLength: 4 })
      .map((parts) => concat(parts.map(([n, zero]) => Uint8Array.from([...new Array(n).fill(0x5a), ...(zero ? [0] : [])])))),
  );

  it('round-trips, never emits 0x00 and stays within cobsMaxEncodedLength (property)', () => {
    fc.assert(
      fc.property(runs, (d) => {
        const enc = cobsEncode(d);
        expect(enc.indexOf(0)).toBe(-1);
        expect(enc.length).toBeLessThanOrEqual(cobsMaxEncodedLength(d.length));
        expect(enc.length).toBeGreaterThan(d.length);
        const dec = cobsDecode(enc);
        expect(dec).not.toBeNull();
        expect(hex(dec as Uint8Array)).toBe(hex(d));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('decodes the shorter form without the trailing 01 after a full run (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), (blocks) => {
        const d = new Uint8Array(254 * blocks).fill(0x42);
        const enc = cobsEncode(d);
        expect(enc[enc.length - 1]).toBe(0x01);
        expect(hex(cobsDecode(enc.subarray(0, enc.length - 1)) as Uint8Array)).toBe(hex(d));
      }),
      { seed: SEED, numRuns: 4 },
    );
  });
});

// ---------------------------------------------------------------- frames

interface Got {
  frames: Frame[];
  reader: FrameReader;
}

function reader(): Got {
  const frames: Frame[] = [];
  const r = new FrameReader(crc32, (f) => frames.push(f));
  return { frames, reader: r };
}

function feed(data: Uint8Array, chunks?: number[]): Got {
  const g = reader();
  if (!chunks) g.reader.push(data);
  else {
    let i = 0;
    for (const n of chunks) {
      if (i >= data.length) break;
      g.reader.push(data.subarray(i, i + n));
      i += n;
    }
    if (i < data.length) g.reader.push(data.subarray(i));
  }
  return g;
}

const show = (f: Frame): string => `${f.kind}/${f.seq}/${f.ack}/${hex(f.payload)}`;
const errors = (s: FrameStats): number => s.crcErrors + s.malformed + s.oversize + s.badVersion;

const kindArb = fc.constantFrom<FrameKindValue>(FrameKind.DATA, FrameKind.ACK, FrameKind.SYNC, FrameKind.SYNC_ACK);
const frameArb: fc.Arbitrary<Frame> = fc.record({
  kind: kindArb,
  seq: fc.integer({ min: 0, max: 255 }),
  ack: fc.integer({ min: 0, max: 255 }),
  payload: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: MAX_PAYLOAD })),
});

/** A frame with a raw ctl byte and a correct CRC, COBS-stuffed between delimiters. */
function rawFrame(ctl: number, seq: number, ack: number, payload: Uint8Array): Uint8Array {
  const raw = new Uint8Array(FRAME_HEADER + payload.length + FRAME_TRAILER);
  raw[0] = ctl;
  raw[1] = seq;
  raw[2] = ack;
  raw.set(payload, FRAME_HEADER);
  const n = FRAME_HEADER + payload.length;
  const c = crc32(raw.subarray(0, n));
  raw[n] = c & 0xff;
  raw[n + 1] = (c >>> 8) & 0xff;
  raw[n + 2] = (c >>> 16) & 0xff;
  raw[n + 3] = (c >>> 24) & 0xff;
  return concat([bytes(0), cobsEncode(raw), bytes(0)]);
}

const F0: Frame = { kind: FrameKind.DATA, seq: 7, ack: 255, payload: bytes(0x83, 0x02, 0x01, 0xa1, 0x01, 0x40) };
const F1: Frame = { kind: FrameKind.DATA, seq: 8, ack: 3, payload: Uint8Array.from(range(0, 47)) };
const F2: Frame = { kind: FrameKind.ACK, seq: 0, ack: 9, payload: new Uint8Array(0) };

describe('encodeFrame / FrameReader', () => {
  it('lays out ctl, seq, ack, payload and CRC-32 little-endian between 0x00 delimiters', () => {
    const wire = encodeFrame({ kind: FrameKind.SYNC, seq: 0, ack: 255, payload: bytes(1, 2, 3, 4) }, crc32);
    expect(wire[0]).toBe(0);
    expect(wire[wire.length - 1]).toBe(0);
    expect(wire.subarray(1, wire.length - 1).indexOf(0)).toBe(-1);
    const raw = cobsDecode(wire.subarray(1, wire.length - 1)) as Uint8Array;
    expect(raw[0]).toBe((LINK_VERSION << 4) | FrameKind.SYNC);
    expect(raw[0]).toBe(0x12);
    expect(hex(raw.subarray(1, 7))).toBe('00ff01020304');
    const c = crc32(raw.subarray(0, 7));
    expect(hex(raw.subarray(7))).toBe(hex(bytes(c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24)));
  });

  it('round-trips every kind, seq, ack and payload size up to MAX_PAYLOAD (property)', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const wire = encodeFrame(f, crc32);
        expect(wire.length - 2).toBeLessThanOrEqual(MAX_ENCODED_FRAME);
        const g = feed(wire);
        expect(g.frames.map(show)).toEqual([show(f)]);
        expect(g.reader.stats).toEqual({ frames: 1, crcErrors: 0, malformed: 0, oversize: 0, badVersion: 0 });
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('accepts a maximal frame of MAX_PAYLOAD non-zero bytes (worst-case COBS overhead)', () => {
    const f: Frame = { kind: FrameKind.DATA, seq: 255, ack: 255, payload: new Uint8Array(MAX_PAYLOAD).fill(0xff) };
    const wire = encodeFrame(f, crc32);
    const g = feed(wire);
    expect(g.frames.map(show)).toEqual([show(f)]);
  });

  it('hands out payloads that outlive the receive buffer', () => {
    const g = feed(concat([encodeFrame(F1, crc32), encodeFrame({ ...F1, payload: new Uint8Array(48).fill(0xee) }, crc32)]));
    expect(hex(g.frames[0].payload)).toBe(hex(F1.payload));
    expect(g.frames[0].payload.byteOffset).toBe(0);
    expect(g.frames[0].payload.buffer.byteLength).toBe(F1.payload.length);
  });

  it('yields the same frames however the stream is split into chunks (property)', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 200 }), (frames, cuts) => {
        const stream = concat(frames.map((f) => encodeFrame(f, crc32)));
        const g = feed(stream, cuts);
        expect(g.frames.map(show)).toEqual(frames.map(show));
        expect(errors(g.reader.stats)).toBe(0);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('isolates garbage and noise between frames without losing a frame (property)', () => {
    const junk = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => b.map((x) => x | 1)));
    fc.assert(
      fc.property(fc.array(fc.tuple(junk, frameArb), { minLength: 1, maxLength: 8 }), junk, fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 100 }), (parts, tail, cuts) => {
        const stream = concat([...parts.flatMap(([j, f]) => [j, encodeFrame(f, crc32)]), tail]);
        const g = feed(stream, cuts);
        expect(g.frames.map(show)).toEqual(parts.map(([, f]) => show(f)));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('drops a frame with any one bit flipped, counts it, and still receives the following frame', () => {
    const w0 = encodeFrame(F0, crc32);
    const w1 = encodeFrame(F1, crc32);
    const w2 = encodeFrame(F2, crc32);
    let cases = 0;
    for (let pos = 0; pos < w1.length; pos++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = new Uint8Array(w1);
        bad[pos] ^= 1 << bit;
        const g = feed(concat([w0, bad, w2]));
        const what = `byte ${pos} bit ${bit}`;
        expect({ what, frames: g.frames.map(show) }).toEqual({ what, frames: [show(F0), show(F2)] });
        expect({ what, dropped: g.reader.stats.crcErrors + g.reader.stats.malformed >= 1 }).toEqual({ what, dropped: true });
        expect(g.reader.stats.frames).toBe(2);
        cases++;
      }
    }
    expect(cases).toBe(w1.length * 8);
  });

  it('drops a truncated frame at every cut point and still receives the following frame', () => {
    const w1 = encodeFrame(F1, crc32);
    const w2 = encodeFrame(F2, crc32);
    // keep the leading 0x00 and at least one encoded byte, lose the rest incl. the trailing 0x00
    for (let keep = 2; keep < w1.length - 1; keep++) {
      const g = feed(concat([w1.subarray(0, keep), w2]));
      expect({ keep, frames: g.frames.map(show) }).toEqual({ keep, frames: [show(F2)] });
      expect({ keep, counted: g.reader.stats.crcErrors + g.reader.stats.malformed }).toEqual({ keep, counted: 1 });
    }
  });

  it('delivers a duplicated frame twice (duplicate suppression is the link\'s job)', () => {
    const w1 = encodeFrame(F1, crc32);
    const g = feed(concat([w1, w1, encodeFrame(F2, crc32)]));
    expect(g.frames.map(show)).toEqual([show(F1), show(F1), show(F2)]);
  });

  it('discards oversize input with bounded memory, counts it once, and receives the next frame', () => {
    const g = reader();
    const internal = g.reader as unknown as { buf: Uint8Array };
    const buf = internal.buf;
    expect(buf.length).toBe(MAX_ENCODED_FRAME);
    // 200 KB without a 0x00, in chunks
    const junk = new Uint8Array(200 * 1024).map((_, i) => 1 + (i % 255));
    for (let i = 0; i < junk.length; i += 4096) g.reader.push(junk.subarray(i, i + 4096));
    expect(internal.buf).toBe(buf);
    expect(internal.buf.length).toBe(MAX_ENCODED_FRAME);
    expect(g.reader.stats.oversize).toBe(1);
    expect(g.frames).toHaveLength(0);
    g.reader.push(encodeFrame(F1, crc32));
    g.reader.push(encodeFrame(F2, crc32));
    expect(g.frames.map(show)).toEqual([show(F1), show(F2)]);
  });

  it('takes exactly MAX_ENCODED_FRAME bytes between delimiters and no more', () => {
    // exactly MAX_ENCODED_FRAME non-zero bytes: not oversize (it is garbage, so malformed or CRC)
    const g = feed(concat([bytes(0), new Uint8Array(MAX_ENCODED_FRAME).fill(0x01), bytes(0)]));
    expect(g.reader.stats.oversize).toBe(0);
    expect(g.reader.stats.crcErrors + g.reader.stats.malformed).toBe(1);
    const h = feed(concat([bytes(0), new Uint8Array(MAX_ENCODED_FRAME + 1).fill(0x01), bytes(0)]));
    expect(h.reader.stats.oversize).toBe(1);
    expect(h.reader.stats.crcErrors + h.reader.stats.malformed).toBe(0);
  });

  it('drops a frame whose payload exceeds MAX_PAYLOAD even with a good CRC', () => {
    const big = encodeFrame({ kind: FrameKind.DATA, seq: 0, ack: 0, payload: new Uint8Array(MAX_PAYLOAD + 1).fill(0x10) }, crc32);
    const g = feed(concat([big, encodeFrame(F2, crc32)]));
    expect(g.reader.stats.oversize).toBe(1);
    expect(g.frames.map(show)).toEqual([show(F2)]);
  });

  it('drops and counts a wrong version nibble and an unknown kind; the next frame still arrives', () => {
    const cases = [
      rawFrame(((LINK_VERSION + 1) << 4) | FrameKind.DATA, 0, 0, bytes(1, 2, 3)),
      rawFrame(0x00 | FrameKind.DATA, 0, 0, bytes(1, 2, 3)),
      rawFrame(0xf0 | FrameKind.ACK, 0, 0, bytes()),
      rawFrame((LINK_VERSION << 4) | (FrameKind.EVENT + 1), 0, 0, bytes()),
      rawFrame((LINK_VERSION << 4) | 0x0f, 0, 0, bytes(9)),
    ];
    for (const bad of cases) {
      const g = feed(concat([bad, encodeFrame(F0, crc32)]));
      expect(g.reader.stats.badVersion).toBe(1);
      expect(g.reader.stats.crcErrors + g.reader.stats.malformed).toBe(0);
      expect(g.frames.map(show)).toEqual([show(F0)]);
    }
    // sanity: the same helper with the right ctl gives a good frame
    const ok = feed(rawFrame((LINK_VERSION << 4) | FrameKind.DATA, F0.seq, F0.ack, F0.payload));
    expect(ok.frames.map(show)).toEqual([show(F0)]);
  });

  it('counts blocks too short to be a frame and invalid COBS as malformed', () => {
    const g = feed(concat([bytes(0, 0x05, 0x11, 0), bytes(0, 0x03, 0x11, 0x22, 0), bytes(0, 0x07, 1, 2, 3, 4, 5, 6, 0), encodeFrame(F2, crc32)]));
    expect(g.reader.stats.malformed).toBe(3);
    expect(g.frames.map(show)).toEqual([show(F2)]);
  });

  it('ignores runs of delimiters', () => {
    const g = feed(concat([new Uint8Array(100), encodeFrame(F0, crc32), new Uint8Array(100), encodeFrame(F2, crc32)]));
    expect(g.frames.map(show)).toEqual([show(F0), show(F2)]);
    expect(errors(g.reader.stats)).toBe(0);
  });
});
