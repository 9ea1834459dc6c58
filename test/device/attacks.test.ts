// The host attack catalogue: a malicious host (raw frames over a real Link, no host library
// in the way) tries to get a signature or a debit without the user's OK + PIN on the device.
// Every request type, wrong order, replayed and duplicated frames and ids, requests during a
// prompt and during PIN entry, CANCEL races, oversized and non-canonical statements, hidden
// fields, control characters and look-alikes, link resets mid-PIN. The "user" presses OK+PIN
// only where a case says so; every other attempt must obtain nothing: the card is watched
// APDU by APDU (every successful signature and debit it makes is counted) and its log read.

import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor } from '../../shared/src/cbor';
import { coseSign1, issueCertificate } from '../../board/card/cose';
import { makeLoadInstruction, newKeyPair } from '../../board/card/personalise';
import { INS, PurseApplet } from '../../board/card/applet';
import { encode, CborMap, CborValue } from '../../protocol/src/cbor';
import { ErrorCode, MsgType } from '../../protocol/src/messages';
import { closeAll, deviceRig, DeviceRig, sleep } from '../helpers/device-rig';
import { RawHost, until } from './harness/raw-host';

jest.setTimeout(60000);

// ------------------------------------------------------------------ the card, watched

const card = { signatures: 0, debits: 0, verifies: 0, keys: 0, onCommand: null as null | ((ins: number, p1: number) => void) };
const process0 = PurseApplet.prototype.process;
beforeAll(() => {
  PurseApplet.prototype.process = function (this: PurseApplet, apdu: Uint8Array): Uint8Array {
    if (apdu.length >= 4 && card.onCommand) card.onCommand(apdu[1], apdu[2]);
    const res = process0.call(this, apdu);
    const ok = res.length >= 2 && res[res.length - 2] === 0x90 && res[res.length - 1] === 0x00;
    if (apdu[0] === 0x00 && apdu[1] === INS.VERIFY) card.verifies++;
    if (ok && apdu[0] === 0x00 && apdu[1] === INS.PSO && apdu[2] === 0x9e && apdu[3] === 0x9a) card.signatures++;
    if (ok && apdu[0] === 0x80 && apdu[1] === INS.DEBIT) card.debits++;
    if (ok && apdu[0] === 0x00 && apdu[1] === INS.GENERATE_KEY_PAIR && apdu[2] === 0x80) card.keys++;
    return res;
  };
});
afterAll(() => {
  PurseApplet.prototype.process = process0;
  console.log(`host attack catalogue: ${attempts} attempts by the host, ${obtained} signatures, debits or new keys obtained without the user's OK + PIN; ${consented} made with them`);
});

let attempts = 0;
let obtained = 0;
let consented = 0;
const rigs: { rig: DeviceRig; raw: RawHost; pins: string[] }[] = [];

const PIN = '9157';
const cleanCard = (): { s: number; d: number; k: number } => ({ s: card.signatures, d: card.debits, k: card.keys });

afterEach(() => {
  // whatever a case did: the PIN never crossed the link, in either direction
  for (const { rig, raw, pins } of rigs.splice(0)) {
    const fromDevice = Buffer.concat(rig.device.usbTraffic.map((b) => Buffer.from(b)));
    const fromHost = Buffer.concat([...raw.written, ...[rig.traffic().fromHost]].map((b) => Buffer.from(b)));
    for (const pin of pins) {
      const block = Buffer.alloc(8, 0xff);
      block.write(pin, 'latin1');
      for (const buf of [fromDevice, fromHost]) {
        expect(buf.includes(Buffer.from(pin, 'latin1'))).toBe(false);
        expect(buf.includes(block)).toBe(false);
      }
    }
    raw.close();
  }
  closeAll();
  card.onCommand = null;
});

async function boot(balance = 5000): Promise<{ rig: DeviceRig; raw: RawHost; pins: string[] }> {
  const rig = await deviceRig({ connect: false, pin: PIN, balance });
  const raw = new RawHost(rig.device);
  await raw.sync();
  const r = { rig, raw, pins: [PIN] };
  rigs.push(r);
  return r;
}

/** Sends an attempt: counted, and whatever it obtains without consent is counted too. */
function attempt(raw: RawHost, type: number, body: Record<string, unknown>, id?: number): number {
  attempts++;
  return raw.send(type, body, id);
}
function attemptBytes(raw: RawHost, bytes: Uint8Array): void {
  attempts++;
  raw.sendBytes(bytes);
}
/** Nothing was signed or paid, and no key replaced, since `before`. */
function nothingObtained(before: { s: number; d: number; k: number }): void {
  obtained += card.signatures - before.s + (card.debits - before.d) + (card.keys - before.k);
  expect(card.signatures - before.s).toBe(0);
  expect(card.debits - before.d).toBe(0);
  expect(card.keys - before.k).toBe(0);
}

const st = (fields: Record<number, HostCbor>): Uint8Array => encodeCanonical(new Map(Object.entries(fields).map(([k, v]) => [Number(k), v])));
const PAYMENT = st({ 1: 1, 2: 'Order 4711', 3: [1250, 'EUR'], 4: 'Shop GmbH', 6: 'INV-4711' });
const DOCUMENT = st({ 1: 2, 2: 'Contract', 7: 'I agree to the terms.' });

const code = (m: { type: number; body: Record<string, unknown> }): number | 'ok' => (m.type === MsgType.ERROR ? (m.body.code as number) : 'ok');

async function readLog(raw: RawHost): Promise<unknown[]> {
  const id = raw.send(MsgType.READ_LOG, {});
  const a = await raw.answer(id);
  expect(a.type).toBe(MsgType.READ_LOG);
  return a.body.entries as unknown[];
}

// ------------------------------------------------------------------ cases

describe('every request type, the user never says yes', () => {
  test('each operation is asked for and pushed on with every other message; nothing is signed or paid', async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    const merchant = newKeyPair('merchant');
    const cert = issueCertificate({ subject: 'Buch & Co', publicKey: merchant.publicKey, role: 2, notAfter: 4102444800 }, rig.ca.privateKey);
    const offer = coseSign1(encodeCanonical(new Map<number, HostCbor>([[1, 'Offer 17']])), merchant.privateKey);
    const instr = makeLoadInstruction(rig.issuer.privateKey, { cardId: rig.persona.cardId, loadCounter: 1, amount: 2000, currency: 'EUR', issuerName: 'Sparkasse' });
    const prompts: [string, number, Record<string, unknown>, RegExp][] = [
      ['CONFIRM', MsgType.CONFIRM, { statement: PAYMENT }, /PAYMENT/],
      ['SIGN payment', MsgType.SIGN, { statement: PAYMENT }, /PAYMENT/],
      ['SIGN document', MsgType.SIGN, { statement: DOCUMENT }, /DOCUMENT/],
      ['SIGN with a new key', MsgType.SIGN, { statement: DOCUMENT, newKey: true }, /NEW KEY/],
      ['PURSE_DEBIT', MsgType.PURSE_DEBIT, { statement: PAYMENT }, /PAYMENT/],
      ['PURSE_LOAD', MsgType.PURSE_LOAD, { instruction: instr }, /LOAD PURSE/],
      ['CHANGE_PIN', MsgType.CHANGE_PIN, {}, /PIN/],
    ];
    // every other request, during the prompt
    const others: [number, Record<string, unknown>][] = [
      [MsgType.CONFIRM, { statement: PAYMENT }],
      [MsgType.SIGN, { statement: PAYMENT }],
      [MsgType.SIGN, { statement: DOCUMENT }],
      [MsgType.SIGN, { statement: DOCUMENT, newKey: true }],
      [MsgType.PURSE_DEBIT, { statement: PAYMENT }],
      [MsgType.PURSE_LOAD, { instruction: instr }],
      [MsgType.VERIFY_OFFER, { certificate: cert, offer }],
      [MsgType.PURSE_BALANCE, {}],
      [MsgType.READ_LOG, {}],
      [MsgType.CHANGE_PIN, {}],
      [MsgType.STORE_CERT, { certificate: cert }],
    ];
    for (const [name, type, body, screen] of prompts) {
      const id = attempt(raw, type, body);
      await rig.waitFor(screen);
      for (const [t2, b2] of others) {
        const id2 = attempt(raw, t2, b2);
        expect([name, code(await raw.answer(id2))]).toEqual([name, ErrorCode.BUSY]);
      }
      // HELLO, PING and CANCEL of someone else are answered and change nothing
      const h = attempt(raw, MsgType.HELLO, { minVersion: 1, maxVersion: 1 });
      expect(code(await raw.answer(h))).toBe('ok');
      const p = attempt(raw, MsgType.PING, { data: new Uint8Array([1]) });
      expect(code(await raw.answer(p))).toBe('ok');
      const c0 = attempt(raw, MsgType.CANCEL, { target: id + 1 });
      expect((await raw.answer(c0)).body).toEqual({ cancelled: false });
      expect(raw.answers(id)).toEqual([]); // still waiting for the user
      expect(rig.screen()).toMatch(screen);
      // the host gives up
      const c = attempt(raw, MsgType.CANCEL, { target: id });
      expect(code(await raw.answer(id))).toBe(ErrorCode.CANCELLED);
      expect((await raw.answer(c)).body).toEqual({ cancelled: true });
      await rig.waitFor(/Stopped by the PC/);
      await rig.press('OK');
    }
    // the requests without a prompt: answered, nothing paid
    for (const [t2, b2] of others.slice(6)) {
      if (t2 === MsgType.CHANGE_PIN || t2 === MsgType.STORE_CERT) continue;
      const id2 = attempt(raw, t2, b2);
      expect(code(await raw.answer(id2))).toBe('ok');
    }
    nothingObtained(before);
    expect(await readLog(raw)).toEqual([]);
    expect(rig.device.sandbox.uncaught).toEqual([]);
  });

  test('wrong order: CANCEL first, a request after its own CANCEL, ids reused after the answer', async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    // CANCEL for an operation that has not been asked yet: the later request is not pre-approved
    const c = attempt(raw, MsgType.CANCEL, { target: 77 });
    expect((await raw.answer(c)).body).toEqual({ cancelled: false });
    attempt(raw, MsgType.SIGN, { statement: DOCUMENT }, 77);
    await rig.waitFor(/DOCUMENT/);
    expect(raw.answers(77)).toEqual([]);
    attempt(raw, MsgType.CANCEL, { target: 77 });
    expect(code(await raw.answer(77))).toBe(ErrorCode.CANCELLED);
    await rig.press('OK');
    // the same id again after it was answered: a new request, a new review, no memory of the old
    const again = raw.answers(77).length;
    attempt(raw, MsgType.PURSE_DEBIT, { statement: PAYMENT }, 77);
    await rig.waitFor(/PAYMENT/);
    expect(raw.answers(77).length).toBe(again);
    // the user reads it and says no
    await rig.press('CANCEL');
    await until(() => raw.answers(77).length > again, 'the refusal');
    expect(code(raw.answers(77)[again])).toBe(ErrorCode.USER_REFUSED);
    nothingObtained(before);
    expect(await readLog(raw)).toEqual([]);
  });
});

describe('replayed and duplicated frames', () => {
  test('the exact frame bytes re-sent (during the prompt, after CANCEL, after a completed signature) are not new requests', async () => {
    const { rig, raw, pins } = await boot();
    const before = cleanCard();
    const w0 = raw.written.length;
    const id = attempt(raw, MsgType.SIGN, { statement: DOCUMENT });
    await rig.waitFor(/DOCUMENT/);
    const frames = raw.written.slice(w0);
    expect(frames.length).toBeGreaterThan(0);
    // replayed three times while the prompt is up: the link sees retransmissions, not requests
    for (let i = 0; i < 3; i++) {
      for (const f of frames) {
        attempts++;
        raw.replay(f);
      }
    }
    await sleep(100);
    expect(raw.answers(id)).toEqual([]);
    expect(rig.screen()).toMatch(/DOCUMENT/);
    attempt(raw, MsgType.CANCEL, { target: id });
    expect(code(await raw.answer(id))).toBe(ErrorCode.CANCELLED);
    await rig.press('OK');
    // replayed after its CANCEL: nothing comes back on screen
    for (const f of frames) {
      attempts++;
      raw.replay(f);
    }
    await sleep(150);
    expect(rig.screen()).not.toMatch(/DOCUMENT/);
    expect(raw.answers(id).length).toBe(1);
    nothingObtained(before);

    // now a signature the user does want (OK + PIN) …
    const w1 = raw.written.length;
    const ok = raw.send(MsgType.SIGN, { statement: DOCUMENT });
    await rig.waitFor(/DOCUMENT/);
    const okFrames = raw.written.slice(w1);
    await rig.scrollTo(/-- end --/);
    await rig.press('OK');
    await rig.waitFor(/Enter your PIN/);
    await rig.type(PIN);
    await rig.press('OK');
    expect(code(await raw.answer(ok))).toBe('ok');
    consented++;
    const after = cleanCard();
    await rig.press('OK');
    // … and its frames replayed: no second signature, no answer, no prompt
    for (let i = 0; i < 3; i++) {
      for (const f of okFrames) {
        attempts++;
        raw.replay(f);
      }
    }
    await sleep(150);
    expect(raw.answers(ok).length).toBe(1);
    expect(rig.screen()).not.toMatch(/DOCUMENT|PIN/);
    nothingObtained(after);
    expect(pins).toEqual([PIN]);
  });

  // WAS A BUG (fixed): SPEC.md §5.0.5 — "a request whose id equals the running operation's id is answered
  // with DUPLICATE_ID (a host bug; the running operation continues)". The firmware answers
  // BUSY: App.begin() (device/src/app.ts) only checks `if (this.op)`. Fix: in App.begin(),
  // before the BUSY answer, `if (req && this.op.req && this.op.id === req.msg.id) return
  // req.fail(ErrorCode.DUPLICATE_ID, 'a request with this id is running'), null;` — and do
  // the same check in the handlers that refuse before begin() (reviewAndPin, load,
  // verifyOffer, balance, readLog, changePin answer a duplicate id with their own refusal
  // first; the check belongs in HostLink.onMessage, which would need to know the running id).
  test('a second request with the running operation’s id (a new frame) is answered DUPLICATE_ID', async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    const id = attempt(raw, MsgType.SIGN, { statement: DOCUMENT });
    await rig.waitFor(/DOCUMENT/);
    attempt(raw, MsgType.SIGN, { statement: DOCUMENT }, id);
    await until(() => raw.answers(id).length > 0, 'the answer to the duplicate');
    const dup = raw.answers(id)[0];
    try {
      expect(code(dup)).toBe(ErrorCode.DUPLICATE_ID);
      expect(rig.screen()).toMatch(/DOCUMENT/); // the running operation continues
    } finally {
      raw.send(MsgType.CANCEL, { target: id });
      await sleep(50);
      nothingObtained(before);
    }
  });

  test('a second request with the running id is at least refused and the operation goes on (BUSY today)', async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    const id = attempt(raw, MsgType.PURSE_DEBIT, { statement: PAYMENT });
    await rig.waitFor(/PAYMENT/);
    for (const t of [MsgType.PURSE_DEBIT, MsgType.SIGN, MsgType.CONFIRM]) attempt(raw, t, { statement: PAYMENT }, id);
    await until(() => raw.answers(id).length >= 3, 'three refusals');
    for (const a of raw.answers(id)) expect([ErrorCode.BUSY, ErrorCode.DUPLICATE_ID]).toContain(code(a));
    expect(rig.screen()).toMatch(/PAYMENT/);
    attempt(raw, MsgType.CANCEL, { target: id });
    await until(() => raw.answers(id).length >= 4, 'CANCELLED');
    expect(code(raw.answers(id)[3])).toBe(ErrorCode.CANCELLED);
    nothingObtained(before);
  });
});

// raw statements the host codec would never produce
const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const txt = (s: string): string => Buffer.from(s, 'utf8').toString('hex').length / 2 < 24 ? (0x60 + Buffer.byteLength(s)).toString(16) + Buffer.from(s, 'utf8').toString('hex') : '78' + Buffer.byteLength(s).toString(16).padStart(2, '0') + Buffer.from(s, 'utf8').toString('hex');
const withKeys = (...kv: [CborValue, CborValue][]): Uint8Array => {
  const m = new CborMap();
  for (const [k, v] of kv) m.set(k as number, v);
  return encode(m);
};

describe('statements the device must refuse before showing anything', () => {
  const cases: [string, Uint8Array][] = [
    ['unsorted keys', h(`a4 02 ${txt('Order')} 01 01 03 82 19 04e2 ${txt('EUR')} 04 ${txt('Shop')}`)],
    ['duplicate key', h(`a5 01 01 02 ${txt('Order')} 03 82 19 04e2 ${txt('EUR')} 04 ${txt('Shop')} 04 ${txt('Evil')}`)],
    ['kind not in shortest form', h(`a4 01 18 01 02 ${txt('Order')} 03 82 19 04e2 ${txt('EUR')} 04 ${txt('Shop')}`)],
    ['amount not in shortest form', h(`a4 01 01 02 ${txt('Order')} 03 82 1a 000004e2 ${txt('EUR')} 04 ${txt('Shop')}`)],
    ['indefinite-length title', h(`a4 01 01 02 7f ${txt('Ord')} ${txt('er')} ff 03 82 19 04e2 ${txt('EUR')} 04 ${txt('Shop')}`)],
    ['indefinite-length map', h(`bf 01 01 02 ${txt('Order')} 03 82 19 04e2 ${txt('EUR')} 04 ${txt('Shop')} ff`)],
    ['float amount', h(`a4 01 01 02 ${txt('Order')} 03 82 fb 4029000000000000 ${txt('EUR')} 04 ${txt('Shop')}`)],
    ['negative amount', h(`a4 01 01 02 ${txt('Order')} 03 82 39 04e1 ${txt('EUR')} 04 ${txt('Shop')}`)],
    ['null payee', h(`a4 01 01 02 ${txt('Order')} 03 82 19 04e2 ${txt('EUR')} 04 f6`)],
    ['tagged amount', h(`a4 01 01 02 ${txt('Order')} 03 c1 82 19 04e2 ${txt('EUR')} 04 ${txt('Shop')}`)],
    ['trailing bytes', h(`a4 01 01 02 ${txt('Order')} 03 82 19 04e2 ${txt('EUR')} 04 ${txt('Shop')} 00`)],
    ['truncated', h(`a4 01 01 02 ${txt('Order')} 03 82 19 04e2 ${txt('EUR')} 04`)],
    ['invalid UTF-8 payee', h(`a4 01 01 02 ${txt('Order')} 03 82 19 04e2 ${txt('EUR')} 04 62 c328`)],
    ['overlong UTF-8 (C0 AF)', h(`a4 01 01 02 ${txt('Order')} 03 82 19 04e2 ${txt('EUR')} 04 62 c0af`)],
    ['hidden field 12', withKeys([1, 1], [2, 'Order'], [3, [1250, 'EUR']], [4, 'Shop'], [12, 'pay 1000 EUR to Evil'])],
    ['hidden field 255', withKeys([1, 1], [2, 'Order'], [3, [1250, 'EUR']], [4, 'Shop'], [255, 1])],
    ['hidden field 0', withKeys([0, 'x'], [1, 1], [2, 'Order'], [3, [1250, 'EUR']], [4, 'Shop'])],
    ['negative key', withKeys([1, 1], [2, 'Order'], [3, [1250, 'EUR']], [4, 'Shop'], [-1, 'x'])],
    ['text key "payee"', h(`a5 01 01 02 ${txt('Order')} 03 82 19 04e2 ${txt('EUR')} 04 ${txt('Shop')} ${txt('payee')} ${txt('Evil')}`)],
    ['text key "3"', h(`a4 01 01 02 ${txt('Order')} 04 ${txt('Shop')} ${txt('3')} 82 19 04e2 ${txt('EUR')}`)],
    ['byte-string title', withKeys([1, 1], [2, new Uint8Array([0x4f, 0x72])], [3, [1250, 'EUR']], [4, 'Shop'])],
    ['amount with three items', withKeys([1, 1], [2, 'Order'], [3, [1250, 'EUR', 1]], [4, 'Shop'])],
    ['amount above 2^53-1', h(`a4 01 01 02 ${txt('Order')} 03 82 1b 0020000000000000 ${txt('EUR')} 04 ${txt('Shop')}`)],
    ['lower-case currency', st({ 1: 1, 2: 'Order', 3: [1250, 'eur'], 4: 'Shop' })],
    ['unknown currency', st({ 1: 1, 2: 'Order', 3: [1250, 'XTS'], 4: 'Shop' })],
    ['look-alike currency (Cyrillic Е)', st({ 1: 1, 2: 'Order', 3: [1250, '\u0415UR'], 4: 'Shop' })],
    ['kind 0', st({ 1: 0, 2: 'Order', 3: [1250, 'EUR'], 4: 'Shop' })],
    ['kind 5', st({ 1: 5, 2: 'Order', 3: [1250, 'EUR'], 4: 'Shop' })],
    ['payment without payee or offer', st({ 1: 1, 2: 'Order', 3: [1250, 'EUR'] })],
    ['payment without amount', st({ 1: 1, 2: 'Order', 4: 'Shop' })],
    ['offer never verified', st({ 1: 1, 2: 'Order', 3: [1250, 'EUR'], 5: new Uint8Array(32) })],
    ['empty title', st({ 1: 1, 2: '', 3: [1250, 'EUR'], 4: 'Shop' })],
    ['title over 64 bytes', st({ 1: 1, 2: 'x'.repeat(65), 3: [1250, 'EUR'], 4: 'Shop' })],
    ['text over 512 bytes', st({ 1: 2, 2: 'Contract', 7: 'y'.repeat(513) })],
    ['nesting too deep', withKeys([1, 1], [2, 'Order'], [3, [[[[[[1250]]]]], 'EUR']], [4, 'Shop'])],
    ['33 entries', withKeys(...Array.from({ length: 33 }, (_, i) => [i + 1, 1] as [CborValue, CborValue]))],
    ['not a map', encode([1, 'Order', [1250, 'EUR'], 'Shop'])],
    ['empty', new Uint8Array(0)],
  ];
  test(`${cases.length} malformed, non-canonical and hidden-field statements × SIGN, PURSE_DEBIT, CONFIRM: refused at once, nothing shown`, async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    const got: Record<string, (number | string)[]> = {};
    for (const [name, bytes] of cases) {
      for (const type of [MsgType.SIGN, MsgType.PURSE_DEBIT, MsgType.CONFIRM]) {
        let id: number;
        if (bytes.length === 0 || bytes.length > 1536) {
          // outside the message schema: the envelope itself is refused
          id = raw.id();
          attemptBytes(raw, encode([type, id, new CborMap().set(1, bytes)]));
        } else id = attempt(raw, type, { statement: bytes });
        const a = await raw.answer(id);
        (got[name] ??= []).push(code(a));
        expect([name, a.type]).toEqual([name, MsgType.ERROR]);
      }
    }
    // a statement over the message limit (1536 bytes)
    const big = st({ 1: 2, 2: 'Contract', 7: 'z'.repeat(500) });
    const huge = new Uint8Array(1537);
    huge.set(big);
    for (const type of [MsgType.SIGN, MsgType.PURSE_DEBIT]) {
      const id = raw.id();
      attemptBytes(raw, encode([type, id, new CborMap().set(1, huge)]));
      expect(code(await raw.answer(id))).not.toBe('ok');
    }
    expect(rig.screen()).toMatch(/Erika Mustermann/);
    expect(rig.statuses.filter((s) => s.state !== 0)).toEqual([]);
    nothingObtained(before);
    expect(rig.device.sandbox.uncaught).toEqual([]);
    // every refusal is one of the codes a decoder or schema gives
    for (const [name, codes] of Object.entries(got)) for (const c of codes) expect([name, ([ErrorCode.MALFORMED, ErrorCode.NON_CANONICAL, ErrorCode.SCHEMA, ErrorCode.UNDISPLAYABLE, ErrorCode.NOT_VERIFIED, ErrorCode.TOO_LARGE] as number[]).includes(c as number)]).toEqual([name, true]);
  });

  const BAD = [
    ['NUL', '\u0000'], ['BEL', '\u0007'], ['ESC', '\u001b'], ['TAB', '\t'], ['LF', '\n'], ['CR', '\r'], ['DEL', '\u007f'], ['NEL', '\u0085'], ['C1 CSI', '\u009b'],
    ['RLO', '\u202e'], ['LRO', '\u202d'], ['RLI', '\u2067'], ['PDI', '\u2069'], ['ZWSP', '\u200b'], ['ZWJ', '\u200d'], ['BOM', '\ufeff'], ['soft hyphen', '\u00ad'], ['NBSP', '\u00a0'],
    ['Cyrillic о', '\u043e'], ['Greek Ο', '\u039f'], ['fullwidth A', '\uff21'], ['combining acute', 'e\u0301'], ['dotless i', '\u0131'], ['en dash', '\u2013'], ['emoji', '\ud83d\ude00'],
    ['leading space', ' '], ['double space', '  '],
  ];
  test('control characters, bidi overrides, invisible characters and look-alikes in names: UNDISPLAYABLE, field named', async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    const fields: [number, string, Record<number, HostCbor>][] = [
      [2, 'title', { 1: 1, 3: [1250, 'EUR'], 4: 'Shop GmbH' }],
      [4, 'payee', { 1: 1, 2: 'Order', 3: [1250, 'EUR'] }],
      [6, 'reference', { 1: 1, 2: 'Order', 3: [1250, 'EUR'], 4: 'Shop GmbH' }],
      [10, 'origin', { 1: 1, 2: 'Order', 3: [1250, 'EUR'], 4: 'Shop GmbH' }],
    ];
    let n = 0;
    for (const [key, , rest] of fields) {
      for (const [name, ch] of BAD) {
        const value = name === 'leading space' ? ' Shop' : name === 'double space' ? 'Shop  GmbH' : 'Sh' + ch + 'p';
        if (name === 'NBSP' && key === 2) continue; // (checked below in other fields)
        const id = attempt(raw, n++ % 2 ? MsgType.PURSE_DEBIT : MsgType.SIGN, { statement: st({ ...rest, [key]: value }) });
        const a = await raw.answer(id, 1500).catch(() => {
          throw new Error(`${name} in field ${key} was not refused; the screen shows:\n${rig.screen()}`);
        });
        expect([name, key, code(a), a.body.path]).toEqual([name, key, name === 'LF' || name === 'TAB' || name === 'CR' ? code(a) : ErrorCode.UNDISPLAYABLE, `statement.${key}`]);
        expect(code(a)).not.toBe('ok');
      }
    }
    // the pairing code too (CONFIRM only)
    for (const [name, ch] of BAD) {
      const value = name === 'leading space' ? ' 124' : name === 'double space' ? '12  4' : '12' + ch + '4';
      const id = attempt(raw, MsgType.CONFIRM, { statement: st({ 1: 3, 2: 'Pairing', 11: value }) });
      const a = await raw.answer(id);
      expect([name, code(a)]).toEqual([name, ErrorCode.UNDISPLAYABLE]);
    }
    expect(rig.screen()).toMatch(/Erika Mustermann/);
    nothingObtained(before);
  });

  test('free text may hold such characters, but they are shown escaped — never drawn as something else', async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    const id = attempt(raw, MsgType.SIGN, { statement: st({ 1: 2, 2: 'Contract', 7: 'Pay \u202eRUE 0001\u202c to Sh\u043ep [U+0041]' }) });
    await rig.waitFor(/DOCUMENT/);
    await rig.scrollTo(/-- end --/);
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      seen.push(rig.screen());
      await rig.press('UP');
    }
    const all = seen.join('\n');
    expect(all).toMatch(/\[U\+202E\]/);
    expect(all).toMatch(/\[U\+043E\]/);
    expect(all).toMatch(/\[\[U\+0041\]/); // a literal "[" cannot fake an escape
    attempt(raw, MsgType.CANCEL, { target: id });
    expect(code(await raw.answer(id))).toBe(ErrorCode.CANCELLED);
    nothingObtained(before);
  });
});

describe('CANCEL races, requests during PIN entry, link resets', () => {
  test('CANCEL right before the user’s OK: CANCELLED, and the PIN typed afterwards goes nowhere', async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    const verifies = card.verifies;
    for (const type of [MsgType.SIGN, MsgType.PURSE_DEBIT]) {
      const id = attempt(raw, type, { statement: PAYMENT });
      await rig.waitFor(/PAYMENT/);
      await rig.scrollTo(/-- end --/);
      raw.send(MsgType.CANCEL, { target: id });
      attempts++;
      await rig.press('OK'); // the user agrees, a moment too late
      await rig.type(PIN); // and types the PIN into whatever is on screen now
      await rig.press('OK');
      expect(code(await raw.answer(id))).toBe(ErrorCode.CANCELLED);
      await rig.waitFor(/Erika Mustermann/);
    }
    expect(card.verifies).toBe(verifies);
    nothingObtained(before);
  });

  test('a request while the user types the PIN is BUSY; CANCEL then drops the PIN prompt', async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    const verifies = card.verifies;
    const id = attempt(raw, MsgType.PURSE_DEBIT, { statement: PAYMENT });
    await rig.waitFor(/PAYMENT/);
    await rig.scrollTo(/-- end --/);
    await rig.press('OK');
    await rig.waitFor(/Enter your PIN/);
    await rig.type(PIN.slice(0, 2));
    for (const [t, b] of [
      [MsgType.SIGN, { statement: DOCUMENT }],
      [MsgType.PURSE_DEBIT, { statement: PAYMENT }],
      [MsgType.CONFIRM, { statement: PAYMENT }],
      [MsgType.CHANGE_PIN, {}],
      [MsgType.PURSE_BALANCE, {}],
    ] as [number, Record<string, unknown>][]) {
      const id2 = attempt(raw, t, b);
      expect(code(await raw.answer(id2))).toBe(ErrorCode.BUSY);
    }
    expect(rig.screen()).toMatch(/Enter your PIN/);
    expect(rig.screen()).toMatch(/\*\*/);
    attempt(raw, MsgType.CANCEL, { target: id });
    expect(code(await raw.answer(id))).toBe(ErrorCode.CANCELLED);
    await rig.type(PIN.slice(2));
    await rig.press('OK');
    await sleep(100);
    expect(card.verifies).toBe(verifies);
    nothingObtained(before);
  });

  test('link reset mid-PIN: the prompt is gone, the rest of the PIN goes nowhere, no result for the old request', async () => {
    const { rig, raw } = await boot();
    const before = cleanCard();
    const verifies = card.verifies;
    for (const type of [MsgType.SIGN, MsgType.PURSE_DEBIT]) {
      const id = attempt(raw, type, { statement: PAYMENT });
      await rig.waitFor(/PAYMENT/);
      await rig.scrollTo(/-- end --/);
      await rig.press('OK');
      await rig.waitFor(/Enter your PIN/);
      await rig.type(PIN.slice(0, 3));
      await raw.sync();
      attempts++;
      await until(() => !/Enter your PIN/.test(rig.screen()), 'the PIN prompt to go');
      await rig.type(PIN.slice(3));
      await rig.press('OK');
      await sleep(100);
      // (SPEC §3.8 wants no ERROR at all after a reset — see the test below; at most
      // the old request is reported CANCELLED, never answered with a result)
      for (const a of raw.answers(id)) expect(code(a)).toBe(ErrorCode.CANCELLED);
      await rig.press('OK');
    }
    expect(card.verifies).toBe(verifies);
    nothingObtained(before);
    expect(await readLog(raw)).toEqual([]);
  });

  // WAS A BUG (fixed): SPEC.md §3.8 — on a link reset the device cancels the operation and "no ERROR is
  // sent for the cancelled request". The firmware's App (device/src/app.ts, onLinkState)
  // calls this.op.fail(CANCELLED, 'link to the host lost'), which answers the request: the
  // ERROR is queued on the link and delivered after the new handshake, with an id from the
  // old session (which a host that restarted its ids could take for a new request's answer).
  // Fix: in onLinkState, drop the request before failing: `const op = this.op; op.req =
  // null; op.fail(ErrorCode.CANCELLED, 'link to the host lost');` (Operation.fail answers only
  // when op.req is set), so the operation ends and the screen goes back without an ERROR.
  test('link reset mid-PIN: no ERROR is sent for the cancelled request (SPEC §3.8)', async () => {
    const { rig, raw } = await boot();
    const id = attempt(raw, MsgType.SIGN, { statement: PAYMENT });
    await rig.waitFor(/PAYMENT/);
    await rig.scrollTo(/-- end --/);
    await rig.press('OK');
    await rig.waitFor(/Enter your PIN/);
    await rig.type(PIN.slice(0, 2));
    await raw.sync();
    attempts++;
    const p = raw.id();
    raw.send(MsgType.PING, { data: new Uint8Array([1]) }, p);
    await raw.answer(p); // everything the device queued before the PING is in
    expect(raw.answers(id)).toEqual([]);
  });

  // The user did say yes here (OK + PIN); the host's CANCEL arrives while the card works.
  // Whatever wins, the host must be told the truth: CANCELLED (or cancelled: true) only if
  // nothing was signed or paid.
  for (const [name, type, ins] of [
    ['SIGN, CANCEL while the card verifies the PIN', MsgType.SIGN, INS.VERIFY],
    ['PURSE_DEBIT, CANCEL while the card verifies the PIN', MsgType.PURSE_DEBIT, INS.VERIFY],
  ] as [string, number, number][]) {
    test(`CANCEL right after the PIN: ${name}`, async () => {
      const { rig, raw } = await boot();
      const before = cleanCard();
      const id = attempt(raw, type, { statement: PAYMENT });
      await rig.waitFor(/PAYMENT/);
      await rig.scrollTo(/-- end --/);
      await rig.press('OK');
      await rig.waitFor(/Enter your PIN/);
      let c = 0;
      card.onCommand = (i) => {
        if (i === ins && !c) c = attempt(raw, MsgType.CANCEL, { target: id });
      };
      await rig.type(PIN);
      await rig.press('OK');
      const a = await raw.answer(id);
      await until(() => c > 0 && raw.answers(c).length > 0, 'the CANCEL answer');
      await sleep(300); // let the card finish whatever it started
      const made = card.signatures - before.s + card.debits - before.d;
      if (code(a) === 'ok') {
        consented++;
        expect(made).toBe(1);
        expect(raw.answers(c)[0].body).toEqual({ cancelled: false });
      } else {
        expect(code(a)).toBe(ErrorCode.CANCELLED);
        expect(made).toBe(0);
        expect(raw.answers(c)[0].body).toEqual({ cancelled: true });
      }
      if (type === MsgType.PURSE_DEBIT) expect((await readLog(raw)).length).toBe(made);
    });
  }

  // WAS A BUG (fixed): SPEC.md §5.0.6 — CANCEL aborts only before "the point of no return (the card has
  // not yet signed or debited)"; otherwise {cancelled: false} and the target completes. The
  // firmware's App.cancel() (device/src/app.ts) fails the operation whenever its id matches,
  // also while the DEBIT (or PSO) APDU is already with the card: the host gets ERROR
  // CANCELLED and {cancelled: true}, and the card has paid (the debit is in its log). Fix:
  // mark the point of no return on the Operation (e.g. `op.committed = true` in flows.ts
  // right before ctx.card.sign(...) / ctx.card.debit(...)) and in App.cancel() answer
  // {cancelled: false} without failing the operation when `this.op.committed`.
  for (const [name, type, ins] of [
    ['PURSE_DEBIT, CANCEL while the card debits', MsgType.PURSE_DEBIT, INS.DEBIT],
    ['SIGN, CANCEL while the card signs', MsgType.SIGN, INS.PSO],
  ] as [string, number, number][]) {
    test(`CANCEL after the point of no return is refused: ${name}`, async () => {
      const { rig, raw } = await boot();
      const before = cleanCard();
      const id = attempt(raw, type, { statement: PAYMENT });
      await rig.waitFor(/PAYMENT/);
      await rig.scrollTo(/-- end --/);
      await rig.press('OK');
      await rig.waitFor(/Enter your PIN/);
      let c = 0;
      card.onCommand = (i, p1) => {
        if (i === ins && (ins !== INS.PSO || p1 === 0x9e) && !c) c = attempt(raw, MsgType.CANCEL, { target: id });
      };
      await rig.type(PIN);
      await rig.press('OK');
      const a = await raw.answer(id);
      await until(() => c > 0 && raw.answers(c).length > 0, 'the CANCEL answer');
      await sleep(300);
      const made = card.signatures - before.s + card.debits - before.d;
      consented += made;
      expect(made).toBe(1); // the card got the command before the CANCEL: it signs or pays
      // the truth: success, and the CANCEL came too late
      expect([code(a), raw.answers(c)[0].body]).toEqual(['ok', { cancelled: false }]);
    });
  }
});

describe('what is signed is exactly what was confirmed', () => {
  test('the signature verifies over the Sig_structure of the exact statement bytes shown, and over nothing else', async () => {
    const { rig, raw } = await boot();
    const stmt = st({ 1: 1, 2: 'Order 4711', 3: [1250, 'EUR'], 4: 'Shop GmbH', 6: 'INV-4711', 7: 'Two books.', 8: 1700000000 });
    const id = raw.send(MsgType.SIGN, { statement: stmt });
    await rig.waitFor(/PAYMENT/);
    await rig.scrollTo(/-- end --/);
    await rig.press('OK');
    await rig.waitFor(/Enter your PIN/);
    await rig.type(PIN);
    await rig.press('OK');
    const a = await raw.answer(id);
    expect(code(a)).toBe('ok');
    consented++;
    const sig = a.body.signature as Uint8Array;
    const prot = a.body.protected as Uint8Array;
    expect(Buffer.from(prot).toString('hex')).toBe('a10126');
    const verifies = (payload: Uint8Array, p: Uint8Array = prot): boolean => p256.verify(sig, sha256(encodeCanonical(['Signature1', p, new Uint8Array(0), payload])), rig.persona.publicKey, { prehash: false });
    expect(verifies(stmt)).toBe(true);
    // any other statement — one more cent, another payee, a field more or less, the same map
    // encoded otherwise, the bytes with a trailing byte — does not verify
    const others: Uint8Array[] = [
      st({ 1: 1, 2: 'Order 4711', 3: [1251, 'EUR'], 4: 'Shop GmbH', 6: 'INV-4711', 7: 'Two books.', 8: 1700000000 }),
      st({ 1: 1, 2: 'Order 4711', 3: [1250, 'EUR'], 4: 'Evil GmbH', 6: 'INV-4711', 7: 'Two books.', 8: 1700000000 }),
      st({ 1: 1, 2: 'Order 4711', 3: [1250, 'EUR'], 4: 'Shop GmbH', 6: 'INV-4711', 7: 'Two books.' }),
      st({ 1: 1, 2: 'Order 4711', 3: [1250, 'EUR'], 4: 'Shop GmbH', 6: 'INV-4711', 7: 'Two books.', 8: 1700000000, 9: 1 }),
      Uint8Array.from([...stmt, 0]),
      h(Buffer.from(stmt).toString('hex').replace(/^a7/, 'bf') + 'ff'),
      sha256(stmt),
    ];
    for (const o of others) expect(verifies(o)).toBe(false);
    expect(verifies(stmt, Uint8Array.from([0xa1, 0x01, 0x38, 0x22]))).toBe(false);
    await rig.press('OK');
    // one OK and one PIN made one signature: asking again needs the user again
    const before = cleanCard();
    const again = attempt(raw, MsgType.SIGN, { statement: stmt });
    await rig.waitFor(/PAYMENT/);
    await sleep(200);
    expect(raw.answers(again)).toEqual([]);
    attempt(raw, MsgType.CANCEL, { target: again });
    expect(code(await raw.answer(again))).toBe(ErrorCode.CANCELLED);
    nothingObtained(before);
  });
});
