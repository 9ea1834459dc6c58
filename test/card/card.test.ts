import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeCommand, parseResponse, SW } from '../../board/card/apdu';
import { AID, decodeMoney, encodeDebit, INS, pinBlock } from '../../board/card/applet';
import { parseAtr, t1Timings } from '../../board/card/atr';
import { EmulatedCard } from '../../board/card/card';
import { verifyToken } from '../../board/card/personalise';
import { FileNv, MemoryNv } from '../../board/card/store';
import { T1Error, T1Terminal } from '../../board/card/t1';
import { newPerso, Session } from './applet-helpers';
import { fromHex, hexs, Wire } from './harness';

function rig(nv: MemoryNv | FileNv) {
  const wire = new Wire(1);
  const card = new EmulatedCard(nv, { clock: () => wire.now });
  card.onTransmit = wire.cardSend;
  wire.card = card;
  const atr = card.reset()!;
  const a = parseAtr(atr);
  wire.queue.length = 0; // the terminal has read the ATR
  const t = t1Timings(a);
  wire.cwtMs = t.cwtMs; // keep the wire's idle gap consistent with the card's CWT
  const term = new T1Terminal(wire, { ifsc: a.ifsc, bwtMs: t.bwtMs, cwtMs: t.cwtMs });
  const apdu = (cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, ne?: number) => parseResponse(term.transmit(encodeCommand({ cla, ins, p1, p2, data, ne })));
  return { wire, card, term, apdu, atr };
}

const debitData = (amount: number) => encodeDebit({ amount, currency: 'EUR', payee: 'Books & Co', txDigest: new Uint8Array(32).fill(5), time: 1 });

describe('EmulatedCard: ATR, PPS and a full purse session over T=1', () => {
  test('reset puts the ATR on the UART; PPS FF 01 FE (T=1) is echoed; SELECT/VERIFY/DEBIT/SIGN over T=1 with chaining at IFSC 32', () => {
    const p = newPerso(5000);
    const wire = new Wire(1);
    const card = new EmulatedCard(p.nv, { clock: () => wire.now });
    card.onTransmit = wire.cardSend;
    wire.card = card;
    expect(card.reset()).toEqual(card.atr);
    expect(Uint8Array.from(wire.queue.splice(0))).toEqual(card.atr);
    wire.send(fromHex('FF 01 FE'));
    expect(hexs(Uint8Array.from(wire.queue.splice(0)))).toBe('FF 01 FE');
    const a = parseAtr(card.atr);
    const t = t1Timings(a);
    const term = new T1Terminal(wire, { ifsc: a.ifsc, bwtMs: t.bwtMs, cwtMs: t.cwtMs });
    term.negotiateIfsd();
    const tx = (c: Parameters<typeof encodeCommand>[0]) => parseResponse(term.transmit(encodeCommand(c)));
    expect(tx({ cla: 0, ins: INS.SELECT, p1: 4, p2: 0, data: AID, ne: 256 }).sw).toBe(SW.OK);
    expect(tx({ cla: 0, ins: INS.VERIFY, p1: 0, p2: 0x81, data: pinBlock('1234') }).sw).toBe(SW.OK);
    const r = tx({ cla: 0x80, ins: INS.DEBIT, p1: 0, p2: 0, data: debitData(250), ne: 256 });
    expect(r.sw).toBe(SW.OK);
    expect(verifyToken(r.data, p.publicKey)).toMatchObject({ amount: 250, counter: 1, payee: 'Books & Co' });
    expect(decodeMoney(tx({ cla: 0x80, ins: INS.BALANCE, p1: 0, p2: 0, ne: 256 }).data).amount).toBe(4750);
    // the command (62 bytes) was chained by IFSC 32
    expect(wire.log.some((l) => l.dir === 'T>C' && l.hex.startsWith('00 20 20') || l.hex.startsWith('00 60 20'))).toBe(true);
  });

  test('an invalid PPS (T=0) gets no answer', () => {
    const p = newPerso();
    const { wire, card } = rig(p.nv);
    card.reset();
    wire.queue.length = 0;
    wire.send(fromHex('FF 00 FF'));
    expect(wire.queue).toHaveLength(0);
  });

  test('key generation (slow) is preceded by a WTX request over the real card', () => {
    const p = newPerso();
    const { apdu, term, card } = rig(p.nv);
    apdu(0, INS.SELECT, 4, 0x0c, AID);
    apdu(0, INS.VERIFY, 0, 0x81, pinBlock('1234'));
    const g = apdu(0, INS.GENERATE_KEY_PAIR, 0x80, 1, undefined, 256);
    expect(g.sw).toBe(SW.OK);
    expect(card.t1Stats.wtx).toBe(1);
    expect(term.lastWtx).toBeGreaterThanOrEqual(2);
  });

  test('power cut inside DEBIT over T=1: the card goes mute, the reader deactivates; after reset the purse is consistent', () => {
    const p = newPerso(5000);
    const { apdu, card } = rig(p.nv);
    apdu(0, INS.SELECT, 4, 0x0c, AID);
    apdu(0, INS.VERIFY, 0, 0x81, pinBlock('1234'));
    p.nv.cutAfterWrites(4);
    expect(() => apdu(0x80, INS.DEBIT, 0, 0, debitData(100), 256)).toThrow(T1Error);
    expect(card.state).toBe('mute');
    const r2 = rig(p.nv);
    r2.apdu(0, INS.SELECT, 4, 0x0c, AID);
    expect(decodeMoney(r2.apdu(0x80, INS.BALANCE, 0, 0).data).amount).toBe(5000);
  });
});

describe('card pulled at every T=1 block boundary and mid-block during DEBIT', () => {
  test('balance ∈ {before, after}; a committed debit is recoverable (log + LAST TOKEN)', () => {
    // reference run: count the reader's transmissions during one DEBIT
    const p0 = newPerso(5000);
    const base = p0.nv.clone();
    const ref = rig(p0.nv);
    ref.apdu(0, INS.SELECT, 4, 0x0c, AID);
    ref.apdu(0, INS.VERIFY, 0, 0x81, pinBlock('1234'));
    const start = ref.wire.log.filter((l) => l.dir === 'T>C').length;
    expect(ref.apdu(0x80, INS.DEBIT, 0, 0, debitData(100), 256).sw).toBe(SW.OK);
    const blocks = ref.wire.log.filter((l) => l.dir === 'T>C').length - start;
    let tried = 0;
    const outcome = { before: 0, after: 0 };
    for (let m = 1; m <= blocks; m++) {
      for (const where of ['after', 'mid'] as const) {
        const nv = base.clone();
        const r = rig(nv);
        r.apdu(0, INS.SELECT, 4, 0x0c, AID);
        r.apdu(0, INS.VERIFY, 0, 0x81, pinBlock('1234'));
        // wrap the card end: pull the card after (or in the middle of) the m-th block
        let count = 0;
        const inner = r.card;
        let pulled = false;
        r.wire.card = {
          receiveByte: (b) => {
            if (!pulled) inner.receiveByte(b);
          },
          lineIdle: () => {
            if (!pulled) inner.lineIdle();
          },
        };
        const origSend = r.wire.send.bind(r.wire);
        r.wire.send = (bytes: Uint8Array) => {
          count++;
          if (count === m && where === 'mid') {
            origSend(bytes.slice(0, Math.max(1, bytes.length >> 1)));
            inner.remove();
            pulled = true;
            return;
          }
          origSend(bytes);
          if (count === m) {
            inner.remove();
            pulled = true;
            r.wire.queue.length = 0; // the answer, if any, never arrives
          }
        };
        let token: Uint8Array | null = null;
        try {
          const resp = r.apdu(0x80, INS.DEBIT, 0, 0, debitData(100), 256);
          if (resp.sw === SW.OK) token = resp.data;
        } catch (e) {
          expect(e).toBeInstanceOf(T1Error);
        }
        // reinsert
        inner.insert();
        const r2 = rig(nv);
        r2.apdu(0, INS.SELECT, 4, 0x0c, AID);
        const bal = decodeMoney(r2.apdu(0x80, INS.BALANCE, 0, 0).data).amount;
        expect([5000, 4900]).toContain(bal);
        if (bal === 4900) {
          outcome.after++;
          const last = verifyToken(r2.apdu(0x80, INS.LAST_TOKEN, 0, 0, undefined, 256).data, p0.publicKey)!;
          expect(last).toMatchObject({ counter: 1, amount: 100 });
          if (token) expect(verifyToken(token, p0.publicKey)).toEqual(last);
        } else {
          outcome.before++;
          expect(token).toBeNull();
          expect(r2.apdu(0x80, INS.LAST_TOKEN, 0, 0).sw).toBe(SW.DATA_NOT_FOUND);
        }
        tried++;
      }
    }
    console.log(`card pulled during DEBIT: ${blocks} reader blocks × 2 (after / mid-block) = ${tried} pull points; ${outcome.before} before, ${outcome.after} after; inconsistent 0`);
    expect(tried).toBe(blocks * 2);
    expect(outcome.before).toBeGreaterThan(0);
    expect(outcome.after).toBeGreaterThan(0);
  });
});

describe('card state in a file', () => {
  test('written atomically (temp + rename), reloaded with the same purse; an interrupted transaction is rolled back on load', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'semper-card-'));
    try {
      const file = path.join(dir, 'card.json');
      const p = newPerso(3000);
      FileNv.save(file, p.nv);
      const r = rig(new FileNv(file));
      r.apdu(0, INS.SELECT, 4, 0x0c, AID);
      r.apdu(0, INS.VERIFY, 0, 0x81, pinBlock('1234'));
      expect(r.apdu(0x80, INS.DEBIT, 0, 0, debitData(1000), 256).sw).toBe(SW.OK);
      expect(fs.readdirSync(dir)).toEqual(['card.json']); // no temp file left
      const again = EmulatedCard.fromFile(file);
      const out: number[] = [];
      again.onTransmit = (b) => out.push(...b);
      again.reset();
      const r2 = rig(new FileNv(file));
      r2.apdu(0, INS.SELECT, 4, 0x0c, AID);
      expect(decodeMoney(r2.apdu(0x80, INS.BALANCE, 0, 0).data).amount).toBe(2000);
      // simulate a crash mid-transaction: a journal holding the before-image of the balance
      const f = new FileNv(file);
      const mem = new MemoryNv();
      for (const k of f.keys()) mem.records.set(k, f.read(k)!);
      const s = new Session(mem);
      s.select();
      s.verify('1234');
      mem.cutAfterWrites(3); // journal(balance) + balance + journal(tx) written, then the cut
      expect(() => s.debit(500)).toThrow();
      FileNv.save(file, mem);
      const r3 = rig(new FileNv(file));
      r3.apdu(0, INS.SELECT, 4, 0x0c, AID);
      expect(decodeMoney(r3.apdu(0x80, INS.BALANCE, 0, 0).data).amount).toBe(2000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
