// Keypad fuzzing: random key events while the firmware's real App (operations, prompts, menu)
// asks for confirmation and PINs. Nothing is signed or paid without the exact sequence: the
// statement read to its end, OK, the correct PIN digits, OK. The App runs from the firmware's
// own sources bundled as the firmware is (harness/app.ts); keys go straight into Tinguin.key()
// (the keypad driver's debounce is tested elsewhere), requests into the handler table, and
// the card is a fake that answers later, so keys also arrive while "the card works".
//
// FUZZ_KEYS sets the number of keys per property (default 200,000 each; the issue's
// 1,000,000 with FUZZ_KEYS=1000000).

import { encodeCanonical, HostCbor } from '../../shared/src/cbor';
import { ErrorCode, MsgType } from '../../protocol/src/messages';
import { prng } from '../helpers/virtual-clock';
import { appHarness, AppHarness } from './harness/app';

const KEYS = Number(process.env.FUZZ_KEYS ?? 200000);

type Cb = (e: unknown, v?: unknown) => void;

interface FakeCard {
  card: Record<string, unknown>;
  pending: (() => void)[];
  pinTries: string[];
  pinOk: number;
  signs: number;
  debits: number;
  other: number;
  onSignOrDebit: (what: string) => void;
}

/** A card that accepts only `pin`, counts what it is asked, and answers when flushed. */
function fakeCard(h: () => AppHarness, pin: string): FakeCard {
  const f: FakeCard = { card: {}, pending: [], pinTries: [], pinOk: 0, signs: 0, debits: 0, other: 0, onSignOrDebit: () => undefined };
  const later = (cb: Cb, e: unknown, v?: unknown): void => {
    f.pending.push(() => cb(e, v));
  };
  const fail = (code: number, message: string, triesLeft?: number) => ({ code, message, triesLeft });
  f.card = {
    reader: { present: () => true },
    open: (cb: Cb) => later(cb, null, { holder: 'Erika Mustermann', kid: h().u8(new Uint8Array(8)) }),
    verifyPin: (p: string, cb: Cb) => {
      f.pinTries.push(p);
      if (p === pin) f.pinOk++;
      later(cb, p === pin ? null : fail(ErrorCode.PIN_FAILED, 'wrong PIN', 2), p === pin);
    },
    sign: (_d: Uint8Array, cb: Cb) => {
      f.signs++;
      f.onSignOrDebit('sign');
      later(cb, null, h().u8(new Uint8Array(64)));
    },
    debit: (_d: unknown, cb: Cb) => {
      f.debits++;
      f.onSignOrDebit('debit');
      later(cb, null, h().u8(new Uint8Array(40)));
    },
    balance: (cb: Cb) => later(cb, null, { amount: 5000, currency: 'EUR' }),
    readLog: (_n: number, cb: Cb) => later(cb, null, h().u8(Uint8Array.of(0x80))),
    changePin: (old: string, _n: string, cb: Cb) => {
      f.pinTries.push(old);
      if (old === pin) f.pinOk++;
      later(cb, old === pin ? null : fail(ErrorCode.PIN_FAILED, 'wrong PIN', 2));
    },
    unblock: (_puk: string, _n: string, cb: Cb) => {
      f.other++;
      later(cb, fail(ErrorCode.PIN_FAILED, 'wrong PUK', 9));
    },
    load: (_i: unknown, cb: Cb) => later(cb, fail(ErrorCode.CARD_ERROR, 'no')),
    verifyCertificate: (_c: unknown, cb: Cb) => later(cb, fail(ErrorCode.VERIFY_FAILED, 'no')),
    verifySignature: (_k: number, _d: unknown, _s: unknown, cb: Cb) => later(cb, null, false),
  };
  return f;
}

const STATEMENT = encodeCanonical(
  new Map<number, HostCbor>([
    [1, 1],
    [2, 'Order 4711'],
    [3, [1250, 'EUR']],
    [4, 'Shop GmbH'],
    [6, 'INV-4711'],
    [7, 'Delivery within three days. Returns accepted for thirty days after delivery.'],
  ]),
);

/**
 * A model of what the user must do, from the keys alone: the review (DOWN to the end, OK),
 * the PIN (digits, CLEAR, OK at 4–8 digits), the card; MENU opens help over a prompt and
 * MENU, OK or CANCEL closes it.
 */
interface Model {
  phase: 'none' | 'review' | 'pin' | 'card';
  id: number;
  top: number;
  seen: boolean;
  help: boolean;
  pin: string;
  submitted: string | null;
}

function run(pin: string, alphabet: string[], keys: number, seed: number) {
  let h: AppHarness | null = null;
  const card = fakeCard(() => h!, pin);
  h = appHarness(card.card);
  const D = h.downsToEnd(STATEMENT);
  expect(D).toBeGreaterThan(0);
  const stmt = h.u8(STATEMENT);
  const rnd = prng(seed);
  const m: Model = { phase: 'none', id: 0, top: 0, seen: false, help: false, pin: '', submitted: null };
  const violations: string[] = [];
  const answers = { ok: 0, busy: 0, refused: 0, failed: {} as Record<number, number>, requests: 0, cancels: 0 };
  let nextId = 1;
  let modelSuccesses = 0;
  let verifyExpected: string | null = null;
  card.onSignOrDebit = (what) => {
    // the card is asked to sign or pay: the model must have seen the whole sequence for THIS operation
    if (!(m.phase === 'card' && m.submitted === pin && h!.opId() === m.id)) violations.push(`${what} without the sequence (model ${JSON.stringify(m)})`);
    else modelSuccesses++;
  };
  const endOp = (): void => {
    m.phase = 'none';
    m.help = false;
  };
  const request = (type: number): void => {
    const id = nextId++;
    answers.requests++;
    let answered = false;
    const req = {
      msg: { type, id, body: { statement: stmt } },
      reply: () => {
        answered = true;
        answers.ok++;
        if (m.id === id) endOp();
      },
      fail: (code: number) => {
        answered = true;
        answers.failed[code] = (answers.failed[code] ?? 0) + 1;
        if (code === ErrorCode.BUSY) answers.busy++;
        if (m.id === id) endOp();
      },
    };
    const before = h!.opId();
    h!.handle(type, req);
    if (before >= 0) {
      // something runs: at once BUSY, the running operation undisturbed
      if (!answered || answers.failed[ErrorCode.BUSY] === undefined || h!.opId() !== before) violations.push('second request not refused BUSY');
      return;
    }
    if (h!.opId() === id) Object.assign(m, { phase: 'review', id, top: 0, seen: D === 0, help: false, pin: '', submitted: null });
    else violations.push('request neither started nor refused');
  };
  const burst: string[] = [];
  const recent: string[] = [];
  const t0 = Date.now();
  for (let n = 0; n < keys; n++) {
    // the host: a request now and then (SIGN or DEBIT), a CANCEL rarely
    const r = rnd();
    if (r < 0.01) request(rnd() < 0.5 ? MsgType.SIGN : MsgType.PURSE_DEBIT);
    else if (r < 0.0105 && m.phase !== 'none') {
      answers.cancels++;
      h.handle(MsgType.CANCEL, { msg: { type: MsgType.CANCEL, id: nextId++, body: { target: m.id } }, reply: () => undefined, fail: () => undefined });
      if (m.phase !== 'card' || card.pending.length) endOp();
    }
    // the card answers, sometimes only after more keys
    if (card.pending.length && rnd() < 0.3) {
      const p = card.pending.splice(0);
      for (const f of p) f();
    }
    // the user: random keys, now and then a burst that gets close (or all the way)
    if (!burst.length && rnd() < 0.03) {
      for (let i = 0, d = Math.floor(rnd() * (D + 2)); i < d; i++) burst.push('DOWN');
      burst.push('OK');
      const digits = pin.split('').filter((c) => alphabet.includes(c));
      const typed = rnd() < 0.5 ? digits : digits.map((c) => (rnd() < 0.2 ? alphabet[Math.floor(rnd() * 10) % alphabet.length] : c));
      for (const c of typed) burst.push(c);
      if (rnd() < 0.1) burst.push(alphabet[Math.floor(rnd() * alphabet.length)]);
      burst.push('OK');
    }
    const k = burst.length ? burst.shift()! : alphabet[Math.floor(rnd() * alphabet.length)];
    // the model, before the firmware sees the key
    verifyExpected = null;
    if (m.phase !== 'none') {
      if (m.help) {
        if (k === 'MENU' || k === 'OK' || k === 'CANCEL') m.help = false;
      } else if (k === 'MENU' && m.phase !== 'card') m.help = true;
      else if (m.phase === 'review') {
        if (k === 'DOWN') m.top = Math.min(m.top + 1, D);
        else if (k === 'UP') m.top = Math.max(m.top - 1, 0);
        if (m.top === D) m.seen = true;
        if (k === 'OK' && m.seen) Object.assign(m, { phase: 'pin', pin: '' });
        else if (k === 'CANCEL') endOp();
      } else if (m.phase === 'pin') {
        if (k.length === 1 && k >= '0' && k <= '9') {
          if (m.pin.length < 8) m.pin += k;
        } else if (k === 'CLEAR') m.pin = m.pin.slice(0, -1);
        else if (k === 'OK' && m.pin.length >= 4) {
          Object.assign(m, { phase: 'card', submitted: m.pin });
          verifyExpected = m.pin;
        } else if (k === 'CANCEL') endOp();
      }
    }
    recent.push(k);
    if (recent.length > 40) recent.shift();
    const tries = card.pinTries.length;
    h.key(k);
    // the PIN goes to the card exactly when the model says it was submitted, as typed
    const asked = card.pinTries.length - tries;
    if (verifyExpected !== null) {
      if (asked !== 1 || card.pinTries[tries] !== verifyExpected) violations.push(`PIN ${verifyExpected} submitted but the card was asked ${JSON.stringify(card.pinTries.slice(tries))}`);
    } else if (asked && m.phase !== 'none') violations.push(`the card was asked a PIN the model did not submit: ${card.pinTries.slice(tries)} ${JSON.stringify(m)} op ${h.opId()} keys ${recent.join(' ')}`);
    if (violations.length) break;
  }
  const ms = Date.now() - t0;
  if (h.sandbox.uncaught.length) violations.push(`firmware faults: ${String(h.sandbox.uncaught[0])}`);
  h.stop();
  return { card, violations, answers, modelSuccesses, ms, D };
}

const ALL = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'OK', 'CANCEL', 'CLEAR', 'UP', 'DOWN', 'MENU'];

test(`(a) ${KEYS} random keys, a PIN with a digit never pressed: no PIN accepted, nothing signed or paid`, () => {
  const alphabet = ALL.filter((k) => k !== '9');
  const r = run('1239', alphabet, KEYS, 0xa11ce);
  console.log(`keypad fuzz (a): ${KEYS} keys in ${r.ms} ms (${Math.round(KEYS / (r.ms / 1000))} keys/s); ${r.answers.requests} requests, ${r.card.pinTries.length} PIN attempts, ${r.card.pinOk} accepted, ${r.card.signs} signatures, ${r.card.debits} debits; answers ${JSON.stringify(r.answers)}`);
  expect(r.violations).toEqual([]);
  expect(r.card.pinOk).toBe(0);
  expect(r.card.signs + r.card.debits).toBe(0);
  expect(r.card.pinTries.length).toBeGreaterThan(KEYS / 20000); // the fuzzer did reach the PIN prompt
});

test(`(b) ${KEYS} random keys, a reachable PIN: every signature and debit follows read-to-end, OK, the PIN, OK`, () => {
  const r = run('2580', ALL, KEYS, 0xb0b);
  console.log(`keypad fuzz (b): ${KEYS} keys in ${r.ms} ms (${Math.round(KEYS / (r.ms / 1000))} keys/s); ${r.answers.requests} requests, ${r.card.pinTries.length} PIN attempts, ${r.card.pinOk} accepted, ${r.card.signs} signatures, ${r.card.debits} debits, ${r.modelSuccesses} predicted by the model; answers ${JSON.stringify(r.answers)}`);
  expect(r.violations).toEqual([]);
  expect(r.card.signs + r.card.debits).toBe(r.modelSuccesses);
  expect(r.card.signs + r.card.debits).toBeGreaterThan(0); // the model's success path was exercised
});
