import fc from 'fast-check';
import { encodeCommand, encodeResponse, parseCommand, parseResponse, ApduError } from '../../board/card/apdu';
import { fromHex, hexs } from './harness';

describe('ISO 7816-4 APDU encoding', () => {
  test('the seven cases, short and extended', () => {
    expect(hexs(encodeCommand({ cla: 0, ins: 0xa4, p1: 4, p2: 0 }))).toBe('00 A4 04 00'); // 1
    expect(hexs(encodeCommand({ cla: 0, ins: 0xca, p1: 1, p2: 1, ne: 256 }))).toBe('00 CA 01 01 00'); // 2S
    expect(hexs(encodeCommand({ cla: 0, ins: 0x20, p1: 0, p2: 0x81, data: fromHex('31 32') }))).toBe('00 20 00 81 02 31 32'); // 3S
    expect(hexs(encodeCommand({ cla: 0, ins: 0x2a, p1: 0x9e, p2: 0x9a, data: fromHex('AA'), ne: 64 }))).toBe('00 2A 9E 9A 01 AA 40'); // 4S
    expect(hexs(encodeCommand({ cla: 0x80, ins: 0x56, p1: 0, p2: 0, ne: 65536 }))).toBe('80 56 00 00 00 00 00'); // 2E
    const d = new Uint8Array(300).fill(7);
    const e3 = encodeCommand({ cla: 0x80, ins: 0x54, p1: 0, p2: 0, data: d });
    expect(hexs(e3.slice(0, 7))).toBe('80 54 00 00 00 01 2C'); // 3E
    const e4 = encodeCommand({ cla: 0x80, ins: 0x54, p1: 0, p2: 0, data: d, ne: 1000 });
    expect(hexs(e4.slice(-2))).toBe('03 E8'); // 4E
    expect(parseCommand(e4)).toMatchObject({ cla: 0x80, ins: 0x54, ne: 1000, extended: true });
    expect(parseCommand(e3).ne).toBeUndefined();
    expect(parseCommand(fromHex('00 CA 01 01 00')).ne).toBe(256);
    expect(parseCommand(fromHex('80 56 00 00 00 00 00')).ne).toBe(65536);
  });

  test('malformed lengths are rejected', () => {
    expect(() => parseCommand(fromHex('00 A4 04'))).toThrow(ApduError);
    expect(() => parseCommand(fromHex('00 A4 04 00 05 01 02'))).toThrow(ApduError);
    expect(() => parseCommand(fromHex('00 A4 04 00 00 00'))).toThrow(ApduError);
    expect(() => parseCommand(fromHex('00 A4 04 00 00 00 00 01'))).toThrow(ApduError); // Lc 0 extended
    expect(() => encodeCommand({ cla: 0, ins: 0, p1: 0, p2: 0, ne: 0 })).toThrow(ApduError);
    expect(() => parseResponse(fromHex('90'))).toThrow(ApduError);
  });

  test('responses', () => {
    expect(hexs(encodeResponse(fromHex('01 02'), 0x6a82))).toBe('01 02 6A 82');
    expect(parseResponse(fromHex('01 02 63 C2'))).toEqual({ data: fromHex('01 02'), sw: 0x63c2 });
  });

  test('property: encode → parse round-trips', () => {
    fc.assert(
      fc.property(
        fc.record({
          cla: fc.integer({ min: 0, max: 255 }),
          ins: fc.integer({ min: 0, max: 255 }),
          p1: fc.integer({ min: 0, max: 255 }),
          p2: fc.integer({ min: 0, max: 255 }),
          data: fc.uint8Array({ maxLength: 600 }),
          ne: fc.option(fc.integer({ min: 1, max: 65536 }), { nil: undefined }),
        }),
        (c) => {
          const p = parseCommand(encodeCommand(c));
          expect(p.data).toEqual(c.data);
          expect(p.ne).toBe(c.ne);
          expect([p.cla, p.ins, p.p1, p.p2]).toEqual([c.cla, c.ins, c.p1, c.p2]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
