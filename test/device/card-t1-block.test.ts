// protocol/src/t1-block.ts — the T=1 block codec meant for both ends — against the known
// answers of board/card/t1.ts and the public OsEID trace, and block for block against the
// emulated card's own codec.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as board from '../../board/card/t1';
import {
  blockLength,
  crc16,
  Edc,
  edcLength,
  encodeBlock,
  iBlock,
  isBlock,
  lrc,
  parseBlock,
  rBlock,
  rErrorFor,
  S_ABORT,
  S_IFS,
  S_RESYNCH,
  S_WTX,
  sBlock,
  SBlockType,
  swapNad,
  T1Block,
  T1Invalid,
} from '../../protocol/src/t1-block';

const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const hexs = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');

describe('EDC known answers', () => {
  test('CRC-16/MCRF4XX check value and the CCID driver’s blocks; LRC', () => {
    expect(crc16(Uint8Array.from(Buffer.from('123456789', 'ascii')))).toBe(0x6f91);
    expect(crc16([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39])).toBe(0x6f91);
    expect(hexs(encodeBlock(sBlock(S_IFS, false, Uint8Array.of(0xfe)), 'CRC'))).toBe('00 C1 01 FE 54 4E');
    expect(hexs(encodeBlock(rBlock(0, 1), 'CRC'))).toBe('00 81 00 AC 27');
    expect(hexs(encodeBlock(sBlock(S_IFS, false, Uint8Array.of(0xfe))))).toBe('00 C1 01 FE 3E');
    expect(lrc(fromHex('00 C1 01 FE'))).toBe(0x3e);
    expect(lrc(fromHex('FF 00 C1 01 FE FF'), 1, 5)).toBe(0x3e);
    expect(crc16(fromHex('AA 00 C1 01 FE'), 1)).toBe(0x544e);
    // same functions as the card's
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    for (let n = 0; n < 300; n += 17) {
      expect(lrc(data, 0, n)).toBe(board.lrc(data, 0, n));
      expect(crc16(data, 0, n)).toBe(board.crc16(data, 0, n));
    }
    expect(edcLength('LRC')).toBe(1);
    expect(edcLength('CRC')).toBe(2);
  });

  test('the OsEID T=1 CRC trace: every block parses and re-encodes byte for byte', () => {
    const trace = JSON.parse(readFileSync(join(__dirname, '..', 'vectors', 't1', 'oseid-t1-crc.json'), 'utf8')) as Record<string, { blocks?: { hex: string }[] }>;
    let n = 0;
    for (const part of Object.values(trace)) {
      if (!part || typeof part !== 'object' || !Array.isArray(part.blocks)) continue;
      for (const b of part.blocks) {
        const bytes = fromHex(b.hex);
        const p = parseBlock(bytes, 'CRC');
        expect(isBlock(p)).toBe(true);
        expect(hexs(encodeBlock(p as T1Block, 'CRC'))).toBe(hexs(bytes));
        n++;
      }
    }
    expect(n).toBeGreaterThan(10);
  });
});

describe('every block type, both EDCs, against board/card/t1.ts', () => {
  const blocks: T1Block[] = [];
  for (const nad of [0x00, 0x12, 0x21]) {
    for (const ns of [0, 1])
      for (const more of [false, true])
        for (const len of [0, 1, 32, 254]) blocks.push(iBlock(ns, more, Uint8Array.from({ length: len }, (_, i) => (i * 13 + ns) & 0xff), nad));
    for (const nr of [0, 1]) for (const err of [0, 1, 2] as const) blocks.push(rBlock(nr, err, nad));
    for (const response of [false, true]) {
      blocks.push(sBlock(S_RESYNCH, response, undefined, nad));
      blocks.push(sBlock(S_ABORT, response, undefined, nad));
      blocks.push(sBlock(S_IFS, response, Uint8Array.of(0xfe), nad));
      blocks.push(sBlock(S_WTX, response, Uint8Array.of(3), nad));
    }
  }
  const toBoard = (b: T1Block): board.Block =>
    b.kind === 'I' ? board.iBlock(b.ns, b.more, b.inf, b.nad) : b.kind === 'R' ? board.rBlock(b.nr, b.error, b.nad) : board.sBlock(b.type as number as board.SType, b.response, b.inf, b.nad);

  for (const edc of ['LRC', 'CRC'] as Edc[]) {
    test(`${edc}: same bytes as the card's codec; parse round-trips; the card's parser agrees`, () => {
      for (const b of blocks) {
        const bytes = encodeBlock(b, edc);
        expect(hexs(bytes)).toBe(hexs(board.encodeBlock(toBoard(b), edc)));
        expect(blockLength(bytes.subarray(0, 3), edc)).toBe(bytes.length);
        const p = parseBlock(bytes, edc);
        expect(p).toEqual(b.kind === 'R' ? b : { ...b, inf: Uint8Array.from(b.inf) });
        expect(board.parseBlock(bytes, edc)).toMatchObject({ kind: b.kind });
      }
    });
  }

  test('PCB bits', () => {
    expect(hexs(encodeBlock(iBlock(1, true, Uint8Array.of(0xaa))))).toBe('00 60 01 AA CB');
    expect(encodeBlock(rBlock(1, 2))[1]).toBe(0x92);
    expect(encodeBlock(sBlock(S_WTX, true, Uint8Array.of(1)))[1]).toBe(0xe3);
    expect(encodeBlock(sBlock(S_ABORT, false))[1]).toBe(0xc2);
    expect(swapNad(0x12)).toBe(0x21);
    expect(swapNad(0x9a)).toBe(0x21); // VPP bits dropped
  });

  test('INF above 254 is refused', () => {
    expect(() => encodeBlock(iBlock(0, false, new Uint8Array(255)))).toThrow(/exceeds 254/);
  });
});

describe('invalid blocks are typed', () => {
  const good = encodeBlock(iBlock(0, false, fromHex('00 B0 00 00 10')));
  const withLrc = (head: number[]): Uint8Array => {
    const b = Uint8Array.from([...head, 0]);
    b[b.length - 1] = lrc(b, 0, b.length - 1);
    return b;
  };
  const cases: [string, Uint8Array, Edc, number | undefined, Partial<T1Invalid>][] = [
    ['bad LRC', Uint8Array.from([...good.subarray(0, good.length - 1), good[good.length - 1] ^ 1]), 'LRC', undefined, { invalid: 'edc', detail: 'edc' }],
    ['CRC bytes swapped', fromHex('00 C1 01 FE 4E 54'), 'CRC', undefined, { invalid: 'edc', detail: 'edc' }],
    ['one CRC byte only', fromHex('00 C1 01 FE 54'), 'CRC', undefined, { invalid: 'format', detail: 'short' }],
    ['cut short', good.subarray(0, good.length - 2), 'LRC', undefined, { invalid: 'format', detail: 'short' }],
    ['too long', Uint8Array.from([...good, 0]), 'LRC', undefined, { invalid: 'format', detail: 'long' }],
    ['LEN FF', withLrc([0, 0, 0xff]), 'LRC', undefined, { invalid: 'format', detail: 'len-ff' }],
    ['LEN above the IFS', good, 'LRC', 4, { invalid: 'format', detail: 'len-ifs' }],
    ['I-block with low PCB bits', withLrc([0, 0x01, 0]), 'LRC', undefined, { invalid: 'format', detail: 'pcb' }],
    ['R-block with b6', withLrc([0, 0xa0, 0]), 'LRC', undefined, { invalid: 'format', detail: 'pcb' }],
    ['R-block error 3', withLrc([0, 0x83, 0]), 'LRC', undefined, { invalid: 'format', detail: 'pcb' }],
    ['R-block with INF', withLrc([0, 0x80, 1, 0]), 'LRC', undefined, { invalid: 'format', detail: 'pcb' }],
    ['S-block type 4', withLrc([0, 0xc4, 0]), 'LRC', undefined, { invalid: 'format', detail: 'pcb' }],
    ['S(IFS) without INF', withLrc([0, 0xc1, 0]), 'LRC', undefined, { invalid: 'format', detail: 's-inf' }],
    ['S(RESYNCH) with INF', withLrc([0, 0xc0, 1, 5]), 'LRC', undefined, { invalid: 'format', detail: 's-inf' }],
    ['S(IFS) 0', withLrc([0, 0xc1, 1, 0]), 'LRC', undefined, { invalid: 'format', detail: 's-inf' }],
    ['S(IFS) FF', withLrc([0, 0xc1, 1, 0xff]), 'LRC', undefined, { invalid: 'format', detail: 's-inf' }],
    ['no EDC at all', fromHex('00 00'), 'LRC', undefined, { invalid: 'format', detail: 'short' }],
  ];
  test.each(cases)('%s', (_name, bytes, edc, maxInf, want) => {
    const p = parseBlock(bytes, edc, maxInf);
    expect(isBlock(p)).toBe(false);
    expect(p).toMatchObject({ kind: 'invalid', ...want });
    expect(rErrorFor(p as T1Invalid)).toBe(want.invalid === 'edc' ? 1 : 2);
    // the card's codec rejects it too
    expect(board.isBlock(board.parseBlock(bytes, edc, maxInf))).toBe(false);
  });

  test('blockLength while a block arrives', () => {
    expect(blockLength([], 'LRC')).toBe(3);
    expect(blockLength([0, 0], 'LRC')).toBe(3);
    expect(blockLength([0, 0, 5], 'LRC')).toBe(9);
    expect(blockLength([0, 0, 5], 'CRC')).toBe(10);
    expect(blockLength([0, 0, 0xff], 'LRC')).toBe(-1);
  });

  test('S-block types are the ISO numbers', () => {
    const t: SBlockType[] = [S_RESYNCH, S_IFS, S_ABORT, S_WTX];
    expect(t).toEqual([0, 1, 2, 3]);
  });
});
