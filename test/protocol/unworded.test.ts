// The protocol's decoders as the firmware is built: WORDED and COUNTED are the literal false
// there (tools/build.mjs), which folds the English refusal texts and the diagnostic counters
// away. Here both flags are false for the TypeScript sources themselves, and the same inputs
// must give the same wire codes and paths as the recorded corpus (only the words are gone), the
// CBOR refusals the same codes and offsets, and the frame reader the same frames without counting.

jest.mock('../../protocol/src/wording', () => ({ WORDED: false }));
jest.mock('../../protocol/src/counting', () => ({ COUNTED: false }));

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CborMap, CborTag, CborValue, decode, encode } from '../../protocol/src/cbor';
import { CborError } from '../../protocol/src/errors';
import { decodeMessage, encodeMessage } from '../../protocol/src/codec';
import { crc32 } from '../../protocol/src/crc32';
import { encodeFrame, FrameKind, FrameReader } from '../../protocol/src/frame';
import { checkEnvelope, LINK_LIMITS, MsgType } from '../../protocol/src/messages';
import { decodeBody, encodeBody } from '../../protocol/src/schema';

const CORPUS = join(__dirname, '..', 'corpus', 'link-decoder.json');
const corpus = (JSON.parse(readFileSync(CORPUS, 'utf8')) as { entries: { hex: string; outcome: string }[] }).entries;

/** The outcome as the corpus records it, without the CBOR refusal's words (code and offset come from the message text on the host). */
function outcome(b: Uint8Array): string {
  try {
    return `ok:${decodeMessage(b, 'request').type}`;
  } catch (e) {
    const me = e as { code?: unknown; path?: unknown; message?: unknown };
    if (typeof me.code !== 'number') return `UNTYPED:${String(e)}`;
    expect(me.message).toBe(''); // no English in this build
    return `err:${me.code}${me.path ? `:${String(me.path)}` : ''}`;
  }
}

test('every corpus input gets the recorded code and path, with no English', () => {
  expect(corpus.length).toBeGreaterThan(50);
  for (const e of corpus) expect([e.hex, outcome(new Uint8Array(Buffer.from(e.hex, 'hex')))]).toEqual([e.hex, e.outcome.replace(/:[A-Z_]+@-?\d+/, '')]);
});

test('CBOR refusals keep their code and offset; the text is empty', () => {
  const cases: [string, string, number][] = [
    ['1800', 'NON_CANONICAL', 0],
    ['9f00ff', 'INDEFINITE', 0],
    ['f93c00', 'UNSUPPORTED', 0],
    ['a2010002', 'TRUNCATED', 4],
    ['a202000100', 'UNSORTED_KEYS', 3],
    ['62c328', 'INVALID_UTF8', 1],
    ['0000', 'TRAILING', 1],
  ];
  for (const [hex, code, offset] of cases) {
    let err: CborError | undefined;
    try {
      decode(new Uint8Array(Buffer.from(hex, 'hex')), LINK_LIMITS);
    } catch (e) {
      err = e as CborError;
    }
    expect([hex, err?.code, err?.offset, err?.message]).toEqual([hex, code, offset, '']);
  }
});

test('the frame reader frames the same without counters, and keeps none', () => {
  const frames: Uint8Array[] = [];
  const reader = new FrameReader(crc32, (f) => frames.push(f.payload));
  const ping = encodeMessage(MsgType.PING, 7, { data: new Uint8Array([1, 2, 3]) }, 'request');
  const good = encodeFrame({ kind: FrameKind.DATA, seq: 1, ack: 0, payload: ping }, crc32);
  const bad = Uint8Array.from(good);
  bad[3] ^= 0x40;
  reader.push(Uint8Array.of(0, 0x41, 0x42)); // noise before a frame
  reader.push(bad);
  reader.push(good);
  reader.push(new Uint8Array(3000).fill(7)); // an oversize run
  reader.push(Uint8Array.of(0));
  reader.push(good);
  expect(frames.map((p) => Buffer.from(p).toString('hex'))).toEqual([Buffer.from(ping).toString('hex'), Buffer.from(ping).toString('hex')]);
  expect((reader as unknown as { stats?: unknown }).stats).toBeUndefined();
});

describe('every other refusal, unworded: its code and path stay, its text is empty', () => {
  const refusal = (f: () => unknown): { code?: unknown; path?: unknown; message?: unknown } => {
    try {
      f();
    } catch (e) {
      return e as { code?: unknown; path?: unknown; message?: unknown };
    }
    throw new Error('no refusal');
  };
  const bytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

  test('the CBOR encoder and decoder', () => {
    let deep: CborValue = 0;
    for (let i = 0; i < 70; i++) deep = [deep];
    const encodes: [CborValue | unknown, string][] = [
      [deep, 'UNENCODABLE'],
      [1.5, 'UNENCODABLE'],
      ['\xff', 'UNENCODABLE'],
      [new CborTag(-1, 0), 'UNENCODABLE'],
      [() => 0, 'UNENCODABLE'],
      [new CborMap().set(true as unknown as number, 1), 'UNENCODABLE'],
    ];
    for (const [v, code] of encodes) {
      const r = refusal(() => encode(v as CborValue));
      expect([r.code, r.message]).toEqual([code, '']);
    }
    const decodes: [string, string][] = [
      ['ff', 'INDEFINITE'],
      ['fc', 'UNSUPPORTED'],
      ['3bffffffffffffffff', 'OUT_OF_RANGE'],
      ['d9010000', 'OUT_OF_RANGE'],
      ['818181818100', 'TOO_DEEP'],
      ['9820', 'TRUNCATED'],
    ];
    for (const [hex, code] of decodes) {
      const r = refusal(() => decode(bytes(hex), LINK_LIMITS));
      expect([hex, r.code, r.message]).toEqual([hex, code, '']);
    }
    expect(refusal(() => decode(new Uint8Array(LINK_LIMITS.maxSize + 1), LINK_LIMITS))).toMatchObject({ code: 'TOO_LARGE', message: '' });
  });

  test('the schema checker, both ways', () => {
    const body = (k: number, v: CborValue): CborMap => new CborMap().set(k, v);
    const decodes: [string, CborValue, string][] = [
      ['1 a u 0 5', body(1, 9), 'b.1'],
      ['1 a t 1 3', body(1, 'abcdef'), 'b.1'],
      ['1 a b', body(1, 1), 'b.1'],
      ['1 a y 1 2', body(1, 'x'), 'b.1'],
      ['1 a y 1 2', body(1, new Uint8Array(5)), 'b.1'],
      ['1 a m', body(1, [1]), 'b.1'],
      ['1 a m', body(1, [1, 'eur']), 'b.1[1]'],
      ['1 a L 0 2', body(1, 5), 'b.1'],
      ['1 a L 0 1', body(1, [[1, 1, 1, 'EUR', 'x', 0], [1, 1, 1, 'EUR', 'x', 0]]), 'b.1'],
      ['1 a L 0 2', body(1, [[1, 2]]), 'b.1[0]'],
      ['1 a U 0 2', body(1, 5), 'b.1'],
      ['1 a U 0 1', body(1, [1, 2]), 'b.1'],
      ['1 a u 0 5', new CborMap(), 'b.1'],
      ['1 a u 0 5', body(2, 1), 'b.2'],
    ];
    for (const [schema, v, path] of decodes) {
      const r = refusal(() => decodeBody(v, schema, 'b'));
      expect([schema, r.path, r.message]).toEqual([schema, path, '']);
    }
    const encodes: [string, Record<string, unknown>, string][] = [
      ['1 a m', { a: 5 }, 'b.1'],
      ['1 a L 0 2', { a: 5 }, 'b.1'],
      ['1 a u 0 5', { b: 1 }, 'b.b'],
    ];
    for (const [schema, v, path] of encodes) {
      const r = refusal(() => encodeBody(v, schema, 'b'));
      expect([schema, r.path, r.message]).toEqual([schema, path, '']);
    }
  });

  test('the envelope', () => {
    for (const v of [[1, 2], ['x', 1, new CborMap()], [1, -1, new CborMap()], [99, 1, new CborMap()], [1, 0, new CborMap()]] as CborValue[]) {
      const r = refusal(() => checkEnvelope(v, 'request'));
      expect([typeof r.code, r.message]).toEqual(['number', '']);
    }
  });
});
