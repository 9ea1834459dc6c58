// Purse atomicity under power cuts: every NV write of DEBIT and LOAD is cut, in two damage
// modes ('dropped': the interrupted write is lost; 'applied': it completes and power goes
// right after), and then every NV write of the power-up recovery is cut as well (again in
// both modes) before a final clean power-up. After each scenario the invariants of
// anchors-reliability.md §2.3 C1 are checked.
import { SW } from '../../board/card/apdu';
import { decodeMoney, DO, INS, PIN_TRIES, pinBlock, PUK_TRIES } from '../../board/card/applet';
import { makeLoadInstruction, verifyToken } from '../../board/card/personalise';
import { CardStore, MemoryNv, PowerCut } from '../../board/card/store';
import { CARD_ID, ISSUER, newPerso, Session } from './applet-helpers';

type Op = 'DEBIT' | 'LOAD';
const MODES = ['dropped', 'applied'] as const;

interface Snapshot {
  balance: number;
  tx: number;
  load: number;
  log: Array<{ counter: number; kind: number; amount: number }>;
}

function snapshot(s: Session): Snapshot {
  expect(s.select().sw).toBe(SW.OK);
  const bal = decodeMoney(s.send(0x80, INS.BALANCE, 0, 0).data).amount;
  const c = s.send(0, INS.GET_DATA, 1, DO.COUNTERS).data;
  const tx = Buffer.from(c).readUInt32BE(0);
  const load = Buffer.from(c).readUInt32BE(4);
  const log = s.applet.logEntries().map((e) => ({ counter: e.counter, kind: e.kind, amount: e.amount }));
  return { balance: bal, tx, load, log };
}

/** A card with some history: 2 loads and 2 debits, 10 000 → 10 000 + 300 + 200 − 150 − 50. */
function baseCard(): { nv: MemoryNv; publicKey: Uint8Array; issued: number[] } {
  const p = newPerso(10_000);
  const s = new Session(p.nv);
  s.select();
  const issued: number[] = [];
  s.load(makeLoadInstruction(ISSUER.privateKey, { cardId: CARD_ID, loadCounter: 1, amount: 300, currency: 'EUR', issuerName: 'Test Bank' }));
  s.verify('1234');
  issued.push(verifyToken(s.debit(150).data, p.publicKey)!.counter);
  s.load(makeLoadInstruction(ISSUER.privateKey, { cardId: CARD_ID, loadCounter: 2, amount: 200, currency: 'EUR', issuerName: 'Test Bank' }));
  s.verify('1234');
  issued.push(verifyToken(s.debit(50).data, p.publicKey)!.counter);
  return { nv: p.nv, publicKey: p.publicKey, issued };
}

const AMOUNT = { DEBIT: 1234, LOAD: 777 };
const loadInstr = makeLoadInstruction(ISSUER.privateKey, { cardId: CARD_ID, loadCounter: 3, amount: AMOUNT.LOAD, currency: 'EUR', issuerName: 'Test Bank' });

/** Runs the operation on a session that is ready for it (PIN verified for DEBIT). */
function run(op: Op, s: Session): ReturnType<Session['send']> {
  return op === 'DEBIT' ? s.debit(AMOUNT.DEBIT, 'Cut Shop') : s.load(loadInstr);
}

function prepare(base: MemoryNv, op: Op): Session {
  const s = new Session(base.clone());
  expect(s.select().sw).toBe(SW.OK);
  if (op === 'DEBIT') expect(s.verify('1234').sw).toBe(SW.OK);
  return s;
}

function checkInvariants(op: Op, before: Snapshot, after: Snapshot, s: Session, publicKey: Uint8Array, issued: number[]): 'before' | 'after' {
  const delta = op === 'DEBIT' ? -AMOUNT.DEBIT : AMOUNT.LOAD;
  const now = snapshot(s);
  expect([before.balance, before.balance + delta]).toContain(now.balance);
  const committed = now.balance !== before.balance;
  if (committed) {
    expect(now).toEqual(after);
  } else {
    expect(now).toEqual(before);
  }
  // log consistent with balance: initial 10 000 + loads − debits
  const sum = now.log.reduce((a, e) => a + (e.kind === 2 ? e.amount : -e.amount), 10_000);
  expect(sum).toBe(now.balance);
  // counters strictly increasing along the log, newest first
  for (let i = 1; i < now.log.length; i++) expect(now.log[i - 1].counter).toBeGreaterThan(now.log[i].counter);
  // no journal left behind
  expect(CardStore.needsRecovery(s.nv)).toBe(false);
  // the next debit gets a counter never used before
  expect(s.verify('1234').sw).toBe(SW.OK);
  const next = verifyToken(s.debit(1, 'Next').data, publicKey)!;
  expect(next.counter).toBe(now.tx + 1);
  for (const c of issued) expect(next.counter).toBeGreaterThan(c);
  if (committed && op === 'DEBIT') expect(next.counter).toBe(after.tx + 1);
  return committed ? 'after' : 'before';
}

describe.each<Op>(['DEBIT', 'LOAD'])('%s is atomic under a power cut at every NV write', (op) => {
  test('exhaustive single cuts and cuts during recovery', () => {
    const base = baseCard();
    const s0 = new Session(base.nv.clone());
    const before = snapshot(s0);
    // reference run without a cut: count the NV writes of the operation
    const ref = prepare(base.nv, op);
    const w0 = ref.nv.writes;
    const r = run(op, ref);
    expect(r.sw).toBe(SW.OK);
    const n = ref.nv.writes - w0;
    const after = snapshot(ref);
    expect(after.balance).toBe(before.balance + (op === 'DEBIT' ? -AMOUNT.DEBIT : AMOUNT.LOAD));

    let singleCuts = 0;
    let recoveryCuts = 0;
    const outcomes = { before: 0, after: 0 };
    for (let k = 1; k <= n; k++) {
      for (const mode of MODES) {
        // cut at write k, then power up cleanly
        const s = prepare(base.nv, op);
        s.nv.cutAfterWrites(k, mode);
        expect(() => run(op, s)).toThrow(PowerCut); // no response, so no token
        const afterCut = s.nv.clone(); // the NV image right after the cut
        s.repower();
        outcomes[checkInvariants(op, before, after, s, base.publicKey, base.issued)]++;
        singleCuts++;
        // then: the same cut, and a second cut at every write of the recovery
        const recoveryWrites = countRecoveryWrites(afterCut);
        for (let j = 1; j <= recoveryWrites; j++) {
          for (const mode2 of MODES) {
            const nv = afterCut.clone();
            nv.cutAfterWrites(j, mode2);
            expect(() => CardStore.open(nv)).toThrow(PowerCut);
            const s2 = new Session(nv.clone());
            outcomes[checkInvariants(op, before, after, s2, base.publicKey, base.issued)]++;
            recoveryCuts++;
          }
        }
      }
    }
    const expected = n * MODES.length;
    console.log(
      `${op}: ${n} NV writes per operation; ${singleCuts} single cut points (${n} writes × ${MODES.length} modes), ` +
        `${recoveryCuts} cuts during recovery; outcomes: ${outcomes.before} rolled back, ${outcomes.after} committed; inconsistent: 0`,
    );
    expect(singleCuts).toBe(expected);
    expect(n).toBe(op === 'DEBIT' ? 9 : 11); // 4 resp. 5 records × (journal + record) + commit
    expect(outcomes.before).toBeGreaterThan(0);
    expect(outcomes.after).toBeGreaterThan(0);
  });
});

function countRecoveryWrites(nv: MemoryNv): number {
  const c = nv.clone();
  const w = c.writes;
  CardStore.open(c);
  return c.writes - w;
}

describe('card pulled between APDUs', () => {
  test('VERIFY, pull, DEBIT → 6982 and nothing moves', () => {
    const base = baseCard();
    const s = new Session(base.nv.clone());
    s.select();
    const before = snapshot(s);
    expect(s.verify('1234').sw).toBe(SW.OK);
    s.repower();
    s.select();
    expect(s.debit(10).sw).toBe(SW.SECURITY_NOT_SATISFIED);
    expect(snapshot(s)).toEqual(before);
  });

  test('DEBIT committed but the answer lost (pull after the commit): READ LOG shows it, LAST TOKEN re-issues it', () => {
    const base = baseCard();
    const s = new Session(base.nv.clone());
    s.select();
    s.verify('1234');
    const r = s.debit(99, 'Lost Answer');
    expect(r.sw).toBe(SW.OK); // pretend the response never reached the terminal
    s.repower();
    s.select();
    const log = s.applet.logEntries(1)[0];
    expect(log).toMatchObject({ kind: 1, amount: 99, party: 'Lost Answer' });
    const t = verifyToken(s.send(0x80, INS.LAST_TOKEN, 0, 0).data, base.publicKey)!;
    expect(t).toEqual(verifyToken(r.data, base.publicKey));
  });
});

describe('PIN operations under a power cut at every NV write (tearing gains no try)', () => {
  const pb = (pin: string) => pinBlock(pin);
  const cases: Array<{ name: string; apdu: (s: Session) => unknown; check: (s: Session, before: { pin: number; puk: number }) => void }> = [
    {
      name: 'VERIFY wrong PIN',
      apdu: (s) => s.verify('0000'),
      check: (s, b) => {
        const t = tries(s);
        expect([b.pin, b.pin - 1]).toContain(t.pin);
        expect(t.puk).toBe(b.puk);
      },
    },
    {
      name: 'VERIFY right PIN',
      apdu: (s) => s.verify('1234'),
      check: (s, b) => expect([b.pin - 1, b.pin, PIN_TRIES]).toContain(tries(s).pin),
    },
    {
      name: 'CHANGE REFERENCE DATA',
      apdu: (s) => s.send(0, INS.CHANGE_REFERENCE_DATA, 0, 0x81, Uint8Array.from([...pb('1234'), ...pb('9876')])),
      check: (s) => {
        const t = tries(s);
        const newPin = s.verify('9876').sw === SW.OK;
        if (!newPin) {
          s.repower();
          s.select();
          expect(s.verify('1234').sw).toBe(SW.OK);
        }
        expect(t.pin).toBeLessThanOrEqual(PIN_TRIES);
      },
    },
    {
      name: 'RESET RETRY COUNTER with a new PIN',
      apdu: (s) => s.send(0, INS.RESET_RETRY_COUNTER, 0, 0x81, Uint8Array.from([...pb('12345678'), ...pb('5555')])),
      check: (s, b) => {
        const t = tries(s);
        expect([b.puk, b.puk - 1, PUK_TRIES]).toContain(t.puk);
        if (t.pin === PIN_TRIES) {
          // unblocked: with the new PIN (committed together with the counter) …
          expect(s.verify('5555').sw).toBe(SW.OK);
        } else {
          // … or nothing changed: still blocked
          expect(t.pin).toBe(b.pin);
          expect(s.verify('1234').sw).toBe(SW.AUTH_BLOCKED);
        }
      },
    },
  ];

  function tries(s: Session): { pin: number; puk: number } {
    const d = s.send(0, INS.GET_DATA, 1, DO.TRIES).data;
    return { pin: d[0], puk: d[1] };
  }

  test.each(cases)('$name', ({ name, apdu, check }) => {
    const p = newPerso();
    if (name.startsWith('RESET')) {
      const s = new Session(p.nv);
      s.select();
      for (const x of ['0000', '0001', '0002']) s.verify(x);
    }
    const base = p.nv.clone();
    const ref = new Session(base.clone());
    ref.select();
    const w0 = ref.nv.writes;
    apdu(ref);
    const n = ref.nv.writes - w0;
    let tried = 0;
    for (let k = 1; k <= n; k++) {
      for (const mode of MODES) {
        const s = new Session(base.clone());
        s.select();
        const before = tries(s);
        s.nv.cutAfterWrites(k, mode);
        expect(() => apdu(s)).toThrow(PowerCut);
        s.repower();
        s.select();
        check(s, before);
        tried++;
      }
    }
    console.log(`${name}: ${n} NV writes, ${tried} cut points, all consistent`);
    expect(tried).toBe(n * MODES.length);
    expect(n).toBeGreaterThan(0);
  });
});
