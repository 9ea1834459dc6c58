import fc from 'fast-check';
import { buildAtr, parseAtr, t1Timings } from '../../board/card/atr';
import { CardReply, encodeBlock, iBlock, isBlock, lrc, parseBlock, rBlock, sBlock, SType, T1Card, T1Error, T1Terminal } from '../../board/card/t1';
import { Fault, fromHex, hexs, Wire } from './harness';

const BWT = 1000;
const CWT = 5;

function setup(opts: { ifsc?: number; terminalIfsc?: number; handle?: (a: Uint8Array) => CardReply; maxRetries?: number } = {}) {
  const wire = new Wire(CWT);
  const seen: string[] = [];
  const card = new T1Card({
    ifsc: opts.ifsc ?? 254,
    bwtMs: BWT,
    send: wire.cardSend,
    handle:
      opts.handle ??
      ((apdu) => {
        seen.push(hexs(apdu));
        return { response: Uint8Array.of(0x90, 0x00) };
      }),
  });
  wire.card = card;
  const term = new T1Terminal(wire, { ifsc: opts.terminalIfsc ?? opts.ifsc ?? 254, bwtMs: BWT, cwtMs: CWT, maxRetries: opts.maxRetries });
  return { wire, card, term, seen };
}

describe('T=1 synthetic analyser trace (byte for byte)', () => {
  // Supplementary vectors. The published worked example (real pcscd and wire captures, with
  // a citation) is in t1-trace.test.ts / test/vectors/t1/. These blocks come from the comment
  // of a protocol-analyser simulation data generator ("Session 3: T=1 direct convention, PPS
  // to T=1") found by code search; the search did not name its repository, so it cannot be
  // cited properly and it is a synthetic test vector, not a capture or ISO 7816-3 annex A.
  // Its comment lists:
  //   ATR: 3B 80 81 31 FE 45 8B  (TA3=FE IFSC 254, TB3=45 BWI 4 CWI 5, TCK 8B)
  //   S(IFS) req 00 C1 01 FE 3E / S(IFS) resp 00 E1 01 FE 1E
  //   I(0,0) reader SELECT: 00 00 0A 00 A4 04 00 05 A0 00 00 00 03 0C
  //   I(0,0) card resp: 00 00 02 90 00 92 ; R(1) 00 90 00 90 ; R(0) 00 80 00 80
  //   S(WTX) req 00 C3 01 01 C3 / S(WTX) resp 00 E3 01 01 E3
  //   I(1,M=1) chain blk1: 00 60 08 00 A4 04 00 08 01 02 03 C0
  //   I(0,0) chain blk2: 00 00 05 04 05 06 07 08 0D
  //   I(1,0) card final resp: 00 40 02 90 00 D2
  //   S(RESYNCH) req 00 C0 00 C0 / resp 00 E0 00 E0
  test('ATR of the trace parses (T=1, IFSC 254, BWI 4, CWI 5, TCK ok)', () => {
    const a = parseAtr(fromHex('3B 80 81 31 FE 45 8B'));
    expect(a).toMatchObject({ protocols: [1, 1], ifsc: 254, bwi: 4, cwi: 5, edc: 'LRC', tckOk: true });
    expect(parseAtr(fromHex('3B 80 81 31 FE 45 8A')).tckOk).toBe(false);
  });

  test('every block of the trace is encoded identically and parses back', () => {
    const cases: Array<[ReturnType<typeof iBlock>, string]> = [
      [sBlock(SType.IFS, false, Uint8Array.of(0xfe)), '00 C1 01 FE 3E'],
      [sBlock(SType.IFS, true, Uint8Array.of(0xfe)), '00 E1 01 FE 1E'],
      [iBlock(0, false, fromHex('00 A4 04 00 05 A0 00 00 00 03')), '00 00 0A 00 A4 04 00 05 A0 00 00 00 03 0C'],
      [iBlock(0, false, fromHex('90 00')), '00 00 02 90 00 92'],
      [rBlock(1), '00 90 00 90'],
      [rBlock(0), '00 80 00 80'],
      [sBlock(SType.WTX, false, Uint8Array.of(1)), '00 C3 01 01 C3'],
      [sBlock(SType.WTX, true, Uint8Array.of(1)), '00 E3 01 01 E3'],
      [iBlock(1, true, fromHex('00 A4 04 00 08 01 02 03')), '00 60 08 00 A4 04 00 08 01 02 03 C0'],
      [iBlock(0, false, fromHex('04 05 06 07 08')), '00 00 05 04 05 06 07 08 0D'],
      [iBlock(1, false, fromHex('90 00')), '00 40 02 90 00 D2'],
      [sBlock(SType.RESYNCH, false), '00 C0 00 C0'],
      [sBlock(SType.RESYNCH, true), '00 E0 00 E0'],
    ];
    for (const [b, want] of cases) {
      expect(hexs(encodeBlock(b))).toBe(want);
      const p = parseBlock(fromHex(want));
      expect(isBlock(p)).toBe(true);
      expect(hexs(encodeBlock(p as typeof b))).toBe(want);
    }
  });

  test('a live terminal/card dialogue reproduces the trace blocks (SELECT, then a chained command at IFSC 8)', () => {
    const { wire, term, seen } = setup({ ifsc: 254 });
    expect(hexs(term.transmit(fromHex('00 A4 04 00 05 A0 00 00 00 03')))).toBe('90 00');
    term.ifsc = 8;
    expect(hexs(term.transmit(fromHex('00 A4 04 00 08 01 02 03 04 05 06 07 08')))).toBe('90 00');
    expect(wire.log.map((l) => `${l.dir} ${l.hex}`)).toEqual([
      'T>C 00 00 0A 00 A4 04 00 05 A0 00 00 00 03 0C',
      'C>T 00 00 02 90 00 92',
      'T>C 00 60 08 00 A4 04 00 08 01 02 03 C0',
      'C>T 00 80 00 80',
      'T>C 00 00 05 04 05 06 07 08 0D',
      'C>T 00 40 02 90 00 D2',
    ]);
    expect(seen).toEqual(['00 A4 04 00 05 A0 00 00 00 03', '00 A4 04 00 08 01 02 03 04 05 06 07 08']);
  });

  test('IFS negotiation reproduces 00 C1 01 FE 3E → 00 E1 01 FE 1E', () => {
    const { wire, term, card } = setup({ ifsc: 32 });
    term.negotiateIfsd();
    expect(wire.log.map((l) => l.hex)).toEqual(['00 C1 01 FE 3E', '00 E1 01 FE 1E']);
    expect(card.ifsd).toBe(254);
  });
});

describe('ATR of the emulated card', () => {
  test('documented bytes, TCK, timings', () => {
    const atr = buildAtr();
    expect(hexs(atr)).toBe('3B 86 81 71 20 45 00 53 45 4D 50 45 52 ' + hexs(Uint8Array.of(lrc(atr, 1, atr.length - 1))));
    const p = parseAtr(atr);
    expect(p).toMatchObject({ protocols: [1, 1], ifsc: 32, bwi: 4, cwi: 5, edc: 'LRC', tckOk: true });
    expect(Buffer.from(p.historical).toString()).toBe('SEMPER');
    const t = t1Timings(p);
    expect(t.cwtMs).toBeCloseTo(43 * (372 / 3.5712e6) * 1000, 6);
    expect(t.bwtMs).toBeGreaterThan(1500);
  });
});

describe('T=1 block parsing', () => {
  test('rejects bad LRC, bad length, bad PCB', () => {
    expect(parseBlock(fromHex('00 00 02 90 00 93'))).toEqual({ invalid: 'edc' });
    expect(parseBlock(fromHex('00 00 03 90 00 93'))).toEqual({ invalid: 'format' });
    expect(parseBlock(fromHex('00 81 01 00 80'))).toEqual({ invalid: 'format' }); // R-block with INF
    expect(parseBlock(fromHex('00 C5 00 C5'))).toEqual({ invalid: 'format' }); // unknown S type
    expect(parseBlock(fromHex('00 C1 01 00 C0'))).toEqual({ invalid: 'format' }); // IFS 0
    expect(parseBlock(fromHex('00 83 00 83'))).toEqual({ invalid: 'format' }); // R error bits 11
  });
});

describe('T=1 error recovery', () => {
  const apdu = fromHex('00 B0 00 00 10');

  test('corrupted LRC from terminal → card R(err) → retransmission', () => {
    const { wire, term, seen } = setup();
    wire.faults = [{ kind: 'corrupt', at: 5, xor: 0x40 }];
    expect(hexs(term.transmit(apdu))).toBe('90 00');
    expect(wire.log.map((l) => l.hex)).toEqual(['00 00 05 00 B0 00 00 10 A5', '00 81 00 81', '00 00 05 00 B0 00 00 10 A5', '00 00 02 90 00 92']);
    expect(seen).toHaveLength(1);
  });

  test('corrupted response → terminal R(N(R), EDC) → card retransmits, APDU runs once', () => {
    const { wire, term, seen } = setup();
    wire.faults = [{ kind: 'none' }, { kind: 'corrupt', at: 3, xor: 1 }];
    expect(hexs(term.transmit(apdu))).toBe('90 00');
    expect(wire.log.map((l) => l.hex)).toEqual(['00 00 05 00 B0 00 00 10 A5', '00 00 02 90 00 92', '00 81 00 81', '00 00 02 90 00 92']);
    expect(seen).toHaveLength(1);
  });

  test('lost command block → timeout → R-block → card asks for it → retransmission', () => {
    const { wire, term, seen } = setup();
    wire.faults = [{ kind: 'dropAll' }];
    expect(hexs(term.transmit(apdu))).toBe('90 00');
    expect(wire.log.map((l) => l.hex)).toEqual(['00 00 05 00 B0 00 00 10 A5', '00 82 00 82', '00 80 00 80', '00 00 05 00 B0 00 00 10 A5', '00 00 02 90 00 92']);
    expect(seen).toHaveLength(1);
    expect(term.stats.timeouts).toBe(1);
  });

  test('lost response block → timeout → R-block → card resends', () => {
    const { wire, term, seen } = setup();
    wire.faults = [{ kind: 'none' }, { kind: 'dropAll' }];
    expect(hexs(term.transmit(apdu))).toBe('90 00');
    expect(wire.log.map((l) => l.hex)).toEqual(['00 00 05 00 B0 00 00 10 A5', '00 00 02 90 00 92', '00 82 00 82', '00 00 02 90 00 92']);
    expect(seen).toHaveLength(1);
  });

  test('lost byte inside a block: the card ends the partial block at line idle', () => {
    const { wire, term, seen } = setup();
    wire.faults = [{ kind: 'dropByte', at: 4 }];
    expect(hexs(term.transmit(apdu))).toBe('90 00');
    expect(wire.log[1].hex).toBe('00 82 00 82');
    expect(seen).toHaveLength(1);
  });

  test('persistent errors: 3 retries, then S(RESYNCH), then a clean failure; the link works again', () => {
    const { wire, term, card } = setup();
    wire.faults = Array.from({ length: 8 }, () => ({ kind: 'corrupt', at: 1, xor: 0x08 }) as Fault);
    expect(() => term.transmit(apdu)).toThrow(expect.objectContaining({ code: 'RESYNCHRONISED' }));
    expect(wire.log.filter((l) => l.hex === '00 C0 00 C0')).toHaveLength(1);
    expect(wire.log.filter((l) => l.hex === '00 E0 00 E0')).toHaveLength(1);
    expect(card.stats.resynchs).toBe(1);
    expect(hexs(term.transmit(apdu))).toBe('90 00');
  });

  test('a dead card: RESYNCH fails three times → DEACTIVATE', () => {
    const { wire, term } = setup();
    wire.faults = Array.from({ length: 40 }, () => ({ kind: 'dropAll' }) as Fault);
    expect(() => term.transmit(apdu)).toThrow(T1Error);
    expect(() => {
      wire.faults = Array.from({ length: 40 }, () => ({ kind: 'dropAll' }) as Fault);
      term.transmit(apdu);
    }).toThrow(expect.objectContaining({ code: 'DEACTIVATE' }));
  });
});

describe('T=1 chaining, IFS, WTX, ABORT', () => {
  const big = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

  test('command chained by IFSC and response chained by IFSD (both directions)', () => {
    const resp = Uint8Array.from([...big(100, 7), 0x90, 0x00]);
    const { wire, term, card } = setup({ ifsc: 16, handle: () => ({ response: resp }) });
    term.negotiateIfsd(); // IFSD 254
    card.ifsd = 20; // pretend a small reader buffer too
    const cmd = Uint8Array.from([0x00, 0xda, 0x00, 0x00, 60, ...big(60)]);
    expect(term.transmit(cmd)).toEqual(resp);
    const tc = wire.log.filter((l) => l.dir === 'T>C').slice(1);
    // 65 bytes / 16 = 5 I-blocks (4 with M=1), then 5 R-acks for the 6 response blocks
    expect(tc.slice(0, 5).map((l) => l.hex.slice(3, 5))).toEqual(['20', '60', '20', '60', '00']);
    const ct = wire.log.filter((l) => l.dir === 'C>T').slice(1);
    expect(ct.slice(4).map((l) => Number.parseInt(l.hex.slice(6, 8), 16))).toEqual([20, 20, 20, 20, 20, 2]);
  });

  test('errors inside chains in both directions are recovered', () => {
    const resp = Uint8Array.from([...big(90, 3), 0x90, 0x00]);
    let runs = 0;
    const { wire, term } = setup({
      ifsc: 10,
      handle: () => {
        runs++;
        return { response: resp };
      },
    });
    term.ifsc = 10;
    const cmd = Uint8Array.from([0x00, 0xda, 0x00, 0x00, 40, ...big(40)]);
    wire.faults = [{ kind: 'none' }, { kind: 'dropAll' }, { kind: 'none' }, { kind: 'corrupt', at: 2, xor: 9 }];
    for (let i = 0; i < 8; i++) wire.faults.push({ kind: 'none' });
    wire.faults.push({ kind: 'dropAll' }, { kind: 'none' }, { kind: 'corrupt', at: 6, xor: 0x77 });
    expect(term.transmit(cmd)).toEqual(resp);
    expect(runs).toBe(1);
  });

  test('IFS adjustment: the card asks for a smaller IFSC mid-session', () => {
    // a scripted card: answers the first I-block with S(IFS request 0x10)
    const wire = new Wire(CWT);
    const sent: Uint8Array[] = [];
    let step = 0;
    let cardNs = 0;
    wire.card = {
      receiveByte: (b) => {
        sent.push(Uint8Array.of(b));
      },
      lineIdle: () => {
        const blk = parseBlock(Uint8Array.from(sent.map((x) => x[0])));
        sent.length = 0;
        if (!isBlock(blk)) return;
        if (step++ === 0) wire.cardSend(encodeBlock(sBlock(SType.IFS, false, Uint8Array.of(0x10))));
        else if (blk.kind === 'I' && blk.more) wire.cardSend(encodeBlock(rBlock(blk.ns ^ 1)));
        else {
          wire.cardSend(encodeBlock(iBlock(cardNs, false, fromHex('90 00'))));
          cardNs ^= 1;
        }
      },
    };
    const term = new T1Terminal(wire, { ifsc: 254, bwtMs: BWT, cwtMs: CWT });
    const cmd = Uint8Array.from({ length: 20 }, (_, i) => i);
    expect(hexs(term.transmit(cmd))).toBe('90 00');
    expect(term.ifsc).toBe(0x10);
    expect(wire.log[1].hex).toBe('00 C1 01 10 D0');
    expect(wire.log[2].hex).toBe('00 E1 01 10 F0');
    // the next command is chained by the new IFSC: 16 + 4 bytes
    expect(hexs(term.transmit(cmd))).toBe('90 00');
    expect(wire.log.slice(4).map((l) => l.hex.slice(0, 8))).toEqual(['00 60 10', '00 80 00', '00 00 04', '00 40 02']);
  });

  test('WTX: a slow command is preceded by S(WTX request), the terminal answers and waits longer', () => {
    let runs = 0;
    const { wire, term, card } = setup({
      handle: () => {
        runs++;
        return { response: fromHex('61 62 90 00'), workMs: 2.5 * BWT };
      },
    });
    wire.faults = [{ kind: 'none' }, { kind: 'none' }, { kind: 'dropAll' }]; // lose the first WTX response
    expect(hexs(term.transmit(fromHex('00 47 80 00 00')))).toBe('61 62 90 00');
    expect(wire.log.map((l) => l.hex)).toEqual([
      '00 00 05 00 47 80 00 00 C2',
      '00 C3 01 03 C1',
      '00 E3 01 03 E1',
      '00 82 00 82',
      '00 C3 01 03 C1',
      '00 E3 01 03 E1',
      '00 00 04 61 62 90 00 97',
    ]);
    expect(term.lastWtx).toBe(3);
    expect(card.stats.wtx).toBe(1);
    expect(runs).toBe(1);
  });

  test('S(ABORT) from the terminal drops a chain; card answers ABORT response', () => {
    const { wire, card } = setup({ ifsc: 8 });
    for (const b of encodeBlock(iBlock(0, true, fromHex('00 DA 00 00 10 01 02 03')))) card.receiveByte(b);
    card.lineIdle();
    for (const b of encodeBlock(sBlock(SType.ABORT, false))) card.receiveByte(b);
    expect(wire.log.map((l) => l.hex)).toEqual(['00 90 00 90', '00 E2 00 E2']);
  });
});

describe('T=1 property: random APDUs over a lossy, noisy wire', () => {
  test('every exchange completes correctly or fails cleanly within bounded retries; never runs an APDU twice', () => {
    const fault: fc.Arbitrary<Fault> = fc.oneof(
      { weight: 6, arbitrary: fc.constant({ kind: 'none' } as Fault) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('corrupt' as const), at: fc.nat(300), xor: fc.integer({ min: 1, max: 255 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('dropByte' as const), at: fc.nat(300) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'dropAll' } as Fault) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(300) }) },
    );
    let completed = 0;
    let failedCleanly = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 400 }), fc.nat(400)), { minLength: 1, maxLength: 4 }),
        fc.array(fault, { maxLength: 40 }),
        fc.integer({ min: 8, max: 254 }),
        fc.integer({ min: 8, max: 254 }),
        (apdus, faults, ifsc, ifsd) => {
          const runs = new Map<string, number>();
          const { wire, term } = setup({
            ifsc,
            handle: (a) => {
              const k = hexs(a);
              runs.set(k, (runs.get(k) ?? 0) + 1);
              const n = a.length;
              return { response: Uint8Array.from({ length: n + 2 }, (_, i) => (a[i % n] ^ i) & 0xff) };
            },
          });
          term.negotiateIfsd();
          (term as unknown as { ifsd: number }).ifsd = ifsd;
          wire.faults = faults;
          for (const [a, salt] of apdus) {
            const apdu = Uint8Array.from([salt & 0xff, ...a]);
            const before = term.stats.blocksSent;
            try {
              const r = term.transmit(apdu);
              const n = apdu.length;
              expect(r).toEqual(Uint8Array.from({ length: n + 2 }, (_, i) => (apdu[i % n] ^ i) & 0xff));
              completed++;
            } catch (e) {
              expect(e).toBeInstanceOf(T1Error);
              failedCleanly++;
              if ((e as T1Error).code === 'DEACTIVATE') return; // the reader powers the card down
            }
            // bounded: at most 64 sends per block step plus resynchs
            expect(term.stats.blocksSent - before).toBeLessThan(64 * (Math.ceil(apdu.length / 8) + Math.ceil((apdu.length + 2) / 8) + 2));
          }
          for (const v of runs.values()) expect(v).toBe(1);
        },
      ),
      { numRuns: 150, seed: 7316 },
    );
    console.log(`T=1 property: ${completed} APDUs completed, ${failedCleanly} failed cleanly`);
    expect(completed).toBeGreaterThan(0);
  });
});
