// T=1 features beyond the basic exchange: CRC, NAD, card-initiated S(IFS), S(ABORT), BWT/CWT
// expiry on the terminal, invalid LEN.
import { crc16, Edc, encodeBlock, iBlock, isBlock, lrc, parseBlock, rBlock, sBlock, SType, T1Card, T1Error, T1Port, T1Terminal } from '../../board/card/t1';
import { Fault, fromHex, hexs, Wire } from './harness';

const BWT = 1000;
const CWT = 5;

function setup(opts: { ifsc?: number; edc?: Edc; nad?: number; nadZeroOnly?: boolean; maxApdu?: number; response?: Uint8Array } = {}) {
  const wire = new Wire(CWT);
  const seen: string[] = [];
  const card = new T1Card({
    ifsc: opts.ifsc ?? 254,
    bwtMs: BWT,
    edc: opts.edc,
    nadZeroOnly: opts.nadZeroOnly,
    maxApdu: opts.maxApdu,
    send: wire.cardSend,
    handle: (apdu) => {
      seen.push(hexs(apdu));
      return { response: opts.response ?? Uint8Array.of(0x90, 0x00) };
    },
  });
  wire.card = card;
  const term = new T1Terminal(wire, { ifsc: opts.ifsc ?? 254, bwtMs: BWT, cwtMs: CWT, edc: opts.edc, nad: opts.nad });
  return { wire, card, term, seen };
}

/** Feeds one burst of bytes to a card, then reports the line idle. */
function feed(card: T1Card, hex: string | Uint8Array): void {
  for (const b of typeof hex === 'string' ? fromHex(hex) : hex) card.receiveByte(b);
  card.lineIdle();
}

function bareCard(opts: Partial<ConstructorParameters<typeof T1Card>[0]> = {}) {
  const out: string[] = [];
  const card = new T1Card({ ifsc: 254, bwtMs: BWT, send: (b) => out.push(hexs(b)), handle: () => ({ response: fromHex('90 00') }), ...opts });
  return { card, out };
}

/** A terminal port that answers every terminal block with the next of `replies` (raw bytes). */
class ScriptPort implements T1Port {
  readonly sent: string[] = [];
  constructor(private readonly replies: Uint8Array[]) {}
  private queue: number[] = [];
  send(bytes: Uint8Array): void {
    this.sent.push(hexs(bytes));
    const r = this.replies.shift();
    if (r) this.queue.push(...r);
  }
  readByte(): number | null {
    return this.queue.length > 0 ? this.queue.shift()! : null;
  }
}

describe('CRC (TC3 bit 1 = 1)', () => {
  test('known answers: CRC-16/MCRF4XX check value, the CCID driver’s IFS request, byte order high first', () => {
    // check value of the CRC catalogue entry CRC-16/MCRF4XX (poly 0x1021 reflected, init FFFF, no xorout)
    expect(crc16(Uint8Array.from(Buffer.from('123456789', 'ascii')))).toBe(0x6f91);
    // OsEID doc/T1_CRC.txt: 00 C1 01 FE → 54 4E as sent by the Linux CCID driver
    expect(hexs(encodeBlock(sBlock(SType.IFS, false, Uint8Array.of(0xfe)), 'CRC'))).toBe('00 C1 01 FE 54 4E');
    expect(hexs(encodeBlock(rBlock(0, 1), 'CRC'))).toBe('00 81 00 AC 27');
    expect(parseBlock(fromHex('00 C1 01 FE 4E 54'), 'CRC')).toEqual({ invalid: 'edc' }); // other byte order
    expect(parseBlock(fromHex('00 C1 01 FE 54'), 'CRC')).toEqual({ invalid: 'format' }); // one EDC byte only
  });

  test('a whole exchange with CRC: chaining both ways, card and terminal agree', () => {
    const resp = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const { wire, term, seen } = setup({ ifsc: 32, edc: 'CRC', response: resp });
    term.negotiateIfsd();
    const cmd = Uint8Array.from({ length: 100 }, (_, i) => (i * 7) & 0xff);
    expect(term.transmit(cmd)).toEqual(resp);
    expect(seen).toEqual([hexs(cmd)]);
    for (const l of wire.log) expect(isBlock(parseBlock(fromHex(l.hex), 'CRC'))).toBe(true);
  });

  test('CRC errors are answered with R(EDC error) and recovered', () => {
    const { wire, term, seen } = setup({ edc: 'CRC' });
    wire.faults = [{ kind: 'corrupt', at: 6, xor: 0x01 }, { kind: 'none' }, { kind: 'none' }, { kind: 'corrupt', at: 5, xor: 0x80 }];
    expect(hexs(term.transmit(fromHex('00 B0 00 00 10')))).toBe('90 00');
    expect(wire.log.map((l) => l.hex)).toEqual([
      '00 00 05 00 B0 00 00 10 ' + hexs(encodeBlock(iBlock(0, false, fromHex('00 B0 00 00 10')), 'CRC').slice(-2)),
      '00 81 00 AC 27',
      wire.log[0].hex,
      wire.log[3].hex,
      '00 81 00 AC 27',
      wire.log[3].hex,
    ]);
    expect(seen).toHaveLength(1);
  });

  test('why CRC: a corrupted LEN can slip past the LRC (1 chance in 256) but not past the CRC', () => {
    // I(0) 00 B0 B2 00 10: with LEN 05 → 02 the receiver takes NAD PCB 02 00 B0 and B2 as LRC
    const good = encodeBlock(iBlock(0, false, fromHex('00 B0 B2 00 10')));
    const bad = good.slice();
    bad[2] = 0x02;
    expect(lrc(bad, 0, 5)).toBe(bad[5]);
    expect(parseBlock(bad.slice(0, 6))).toMatchObject({ kind: 'I', inf: fromHex('00 B0') }); // undetected
    const goodCrc = encodeBlock(iBlock(0, false, fromHex('00 B0 B2 00 10')), 'CRC');
    for (let len = 0; len < 5; len++) {
      const b = goodCrc.slice();
      b[2] = len;
      expect(isBlock(parseBlock(b.slice(0, len + 5), 'CRC'))).toBe(false);
    }
  });
});

describe('NAD', () => {
  test('the card answers with SAD and DAD exchanged; VPP bits b8/b4 are ignored', () => {
    const { wire, term, seen } = setup({ nad: 0x12 }); // DAD 1, SAD 2
    expect(hexs(term.transmit(fromHex('00 B0 00 00 10')))).toBe('90 00');
    expect(wire.log.map((l) => l.hex.slice(0, 2))).toEqual(['12', '21']);
    const { card, out } = bareCard();
    feed(card, encodeBlock(iBlock(0, false, fromHex('00 B0 00 00 10'), 0x9a))); // 1001 1010: VPP bits + DAD 1 SAD 2
    expect(out).toEqual(['21 00 02 90 00 B3']);
    expect(seen).toHaveLength(1);
  });

  test('the terminal rejects a card block whose NAD is not its own swapped (R-block, then the right block)', () => {
    const port = new ScriptPort([encodeBlock(iBlock(0, false, fromHex('90 00'), 0x12)), encodeBlock(iBlock(0, false, fromHex('90 00'), 0x21))]);
    const term = new T1Terminal(port, { ifsc: 254, bwtMs: BWT, cwtMs: CWT, nad: 0x12 });
    expect(hexs(term.transmit(fromHex('00 B0 00 00 10')))).toBe('90 00');
    expect(port.sent[1]).toBe('12 82 00 90'); // R(0, other error)
  });

  test('SAD = DAD ≠ 0 is reserved: invalid block; a card limited to NAD 00 treats any other NAD as invalid', () => {
    const a = bareCard();
    feed(a.card, encodeBlock(iBlock(0, false, fromHex('00 B0 00 00 10'), 0x33)));
    expect(a.out).toEqual(['00 82 00 82']);
    const b = bareCard({ nadZeroOnly: true });
    feed(b.card, encodeBlock(iBlock(0, false, fromHex('00 B0 00 00 10'), 0x12)));
    feed(b.card, encodeBlock(iBlock(0, false, fromHex('00 B0 00 00 10'), 0x88))); // only VPP bits: NAD 00
    expect(b.out).toEqual(['00 82 00 82', '00 00 02 90 00 92']);
    expect(b.card.stats.apdus).toBe(1);
  });
});

describe('card-initiated S(IFS request)', () => {
  test('the card announces a smaller IFSC before its next answer; the terminal answers and chains by it', () => {
    const { wire, term, card, seen } = setup({ ifsc: 254 });
    card.requestIfsc(16);
    const cmd = Uint8Array.from({ length: 20 }, (_, i) => i);
    expect(hexs(term.transmit(cmd))).toBe('90 00');
    expect(wire.log.slice(1, 4).map((l) => l.hex)).toEqual(['00 C1 01 10 D0', '00 E1 01 10 F0', '00 00 02 90 00 92']);
    expect(card.ifsc).toBe(16);
    expect(term.ifsc).toBe(16);
    expect(hexs(term.transmit(cmd))).toBe('90 00');
    expect(wire.log.slice(4).map((l) => l.hex.slice(0, 8))).toEqual(['00 60 10', '00 80 00', '00 00 04', '00 40 02']);
    expect(seen).toHaveLength(2);
    // now a block longer than the new IFSC is an invalid block
    const { card: c2, out } = bareCard({ ifsc: 254 });
    c2.requestIfsc(16);
    feed(c2, encodeBlock(iBlock(0, false, fromHex('00 B0 00 00 10'))));
    feed(c2, encodeBlock(sBlock(SType.IFS, true, Uint8Array.of(16))));
    feed(c2, encodeBlock(iBlock(1, false, new Uint8Array(17))));
    expect(out).toEqual(['00 C1 01 10 D0', '00 00 02 90 00 92', '00 92 00 92']); // R(1, other error)
  });

  test('a lost S(IFS response) makes the card repeat its request; a wrong size is refused', () => {
    const { wire, term, card } = setup();
    card.requestIfsc(100);
    wire.faults = [{ kind: 'none' }, { kind: 'none' }, { kind: 'dropAll' }];
    expect(hexs(term.transmit(fromHex('00 B0 00 00 10')))).toBe('90 00');
    expect(wire.log.map((l) => l.hex)).toEqual(['00 00 05 00 B0 00 00 10 A5', '00 C1 01 64 A4', '00 E1 01 64 84', '00 82 00 82', '00 C1 01 64 A4', '00 E1 01 64 84', '00 00 02 90 00 92']);
    expect(card.ifsc).toBe(100);
    expect(() => card.requestIfsc(0)).toThrow(RangeError);
    expect(() => card.requestIfsc(255)).toThrow(RangeError);
  });
});

describe('S(ABORT)', () => {
  test('the card aborts a command chain longer than it accepts; the terminal answers, reports ABORTED, and the link goes on', () => {
    const { wire, term, card, seen } = setup({ ifsc: 8, maxApdu: 20 });
    const long = Uint8Array.from({ length: 30 }, (_, i) => i);
    expect(() => term.transmit(long)).toThrow(expect.objectContaining({ code: 'ABORTED' }));
    expect(wire.log.slice(-2).map((l) => l.hex)).toEqual(['00 C2 00 C2', '00 E2 00 E2']);
    expect(card.stats.aborts).toBe(1);
    expect(hexs(term.transmit(fromHex('00 B0 00 00 10')))).toBe('90 00');
    expect(seen).toEqual(['00 B0 00 00 10']);
    expect(card.stats.resynchs).toBe(0);
  });

  test('a lost S(ABORT request) is repeated on the terminal’s R-block', () => {
    const { wire, term } = setup({ ifsc: 8, maxApdu: 10 });
    wire.faults = [{ kind: 'none' }, { kind: 'none' }, { kind: 'none' }, { kind: 'dropAll' }];
    expect(() => term.transmit(new Uint8Array(20))).toThrow(T1Error);
    expect(wire.log.slice(3).map((l) => l.hex)).toEqual(['00 C2 00 C2', '00 82 00 82', '00 C2 00 C2', '00 E2 00 E2']);
  });

  test('S(ABORT request) from the terminal during the card’s chained answer drops the rest', () => {
    const { card, out } = bareCard({ handle: () => ({ response: new Uint8Array(50) }) });
    card.ifsd = 20;
    feed(card, encodeBlock(iBlock(0, false, fromHex('00 B0 00 00 32'))));
    feed(card, encodeBlock(sBlock(SType.ABORT, false)));
    feed(card, encodeBlock(rBlock(1)));
    // the R(1) that would have fetched the next block only gets R(N(R)): no more data
    expect(out).toEqual([out[0], '00 E2 00 E2', '00 90 00 90']);
    expect(out[0].slice(0, 8)).toBe('00 20 14');
  });
});

describe('BWT and CWT expiry on the terminal', () => {
  test('BWT: a lost card block → R(N(R)) → the card sends it again', () => {
    const { wire, term } = setup();
    wire.faults = [{ kind: 'none' }, { kind: 'dropAll' }];
    expect(hexs(term.transmit(fromHex('00 B0 00 00 10')))).toBe('90 00');
    expect(wire.log.map((l) => l.hex)).toEqual(['00 00 05 00 B0 00 00 10 A5', '00 00 02 90 00 92', '00 82 00 82', '00 00 02 90 00 92']);
    expect(term.stats.timeouts).toBe(1);
    expect(wire.now).toBeGreaterThanOrEqual(BWT);
  });

  test('CWT: a card block cut short → R(N(R), other error) → resent', () => {
    const { wire, term } = setup();
    wire.faults = [{ kind: 'none' }, { kind: 'truncate', at: 4 } as Fault];
    expect(hexs(term.transmit(fromHex('00 B0 00 00 10')))).toBe('90 00');
    expect(wire.log.slice(1).map((l) => l.hex)).toEqual(['00 00 02 90 00 92', '00 82 00 82', '00 00 02 90 00 92']);
    expect(term.stats.timeouts).toBe(0);
    expect(term.stats.badBlocks).toBe(1);
  });

  test('a byte lost inside a terminal block: the card answers R(err) at line idle and takes the very next retransmission', () => {
    const { wire, term, seen } = setup();
    wire.faults = [{ kind: 'dropByte', at: 4 }];
    expect(hexs(term.transmit(fromHex('00 B0 00 00 10')))).toBe('90 00');
    expect(wire.log.map((l) => l.hex)).toEqual(['00 00 05 00 B0 00 00 10 A5', '00 82 00 82', '00 00 05 00 B0 00 00 10 A5', '00 00 02 90 00 92']);
    expect(seen).toHaveLength(1);
  });
});

describe('invalid LEN', () => {
  test('card: LEN = FF (reserved) → R(other error) at line idle; LEN > IFSC → R(other error); then normal service', () => {
    const { card, out } = bareCard({ ifsc: 16 });
    feed(card, '00 00 FF 01 02 03 04 05');
    const over = encodeBlock(iBlock(0, false, new Uint8Array(17)));
    feed(card, over);
    expect(parseBlock(over, 'LRC', 16)).toEqual({ invalid: 'format' });
    feed(card, encodeBlock(iBlock(0, false, fromHex('00 B0 00 00 10'))));
    expect(out).toEqual(['00 82 00 82', '00 82 00 82', '00 00 02 90 00 92']);
    expect(card.stats.badBlocks).toBe(2);
  });

  test('terminal: a card block with LEN = FF or LEN > IFSD → R(N(R), other error)', () => {
    const ok = encodeBlock(iBlock(0, false, fromHex('90 00')));
    const port = new ScriptPort([fromHex('00 00 FF 90 00'), encodeBlock(iBlock(0, false, new Uint8Array(40))), ok]);
    const term = new T1Terminal(port, { ifsc: 254, ifsd: 32, bwtMs: BWT, cwtMs: CWT });
    expect(hexs(term.transmit(fromHex('00 B0 00 00 10')))).toBe('90 00');
    expect(port.sent.slice(1)).toEqual(['00 82 00 82', '00 82 00 82']);
    expect(term.stats.badBlocks).toBe(2);
  });

  test('terminal: until S(IFS) succeeds the card may use the initial IFSD of 32, whatever the terminal will announce', () => {
    const resp = Uint8Array.from({ length: 40 }, (_, i) => i);
    const { wire } = setup({ response: resp }); // its own terminal is not used
    const small = new T1Terminal(wire, { ifsc: 254, ifsd: 16, bwtMs: BWT, cwtMs: CWT });
    expect(small.transmit(fromHex('00 B0 00 00 28'))).toEqual(resp); // card chains 32 + 8
    expect(wire.log.slice(1).map((l) => l.hex.slice(0, 8))).toEqual(['00 20 20', '00 90 00', '00 40 08']);
    small.negotiateIfsd();
    expect(small.transmit(fromHex('00 B0 00 00 28'))).toEqual(resp); // now 16 + 16 + 8
    expect(wire.log.slice(6).map((l) => l.hex.slice(0, 8))).toEqual(['00 40 05', '00 20 10', '00 90 00', '00 60 10', '00 80 00', '00 00 08']);
  });
});
