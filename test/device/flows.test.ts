// The firmware's operations end to end in the emulator, as a user and a host meet them: the
// host asks over the link, the user reads the screen and presses keys, the card does the
// rest. Every flow of SPEC.md §5.5–5.12, refusals, PIN errors up to a blocked card and its
// PUK, help and language — and the PIN never crosses the link.

import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor } from '../../shared/src/cbor';
import { coseSign1, issueCertificate } from '../../board/card/cose';
import { makeLoadInstruction, newKeyPair, verifyToken } from '../../board/card/personalise';
import { DeviceError } from '../../host/src/link/device-link';
import { ErrorCode, MsgType } from '../../protocol/src/messages';
import { closeAll, DeviceRig, deviceRig, until } from '../helpers/device-rig';
import { R } from '../../board/card/applet';
import { CardStore } from '../../board/card/store';

jest.setTimeout(60000);
afterEach(closeAll);

function statement(fields: Record<number, HostCbor>): Uint8Array {
  return encodeCanonical(new Map(Object.entries(fields).map(([k, v]) => [Number(k), v])));
}
const payment = (extra: Record<number, HostCbor> = {}): Uint8Array =>
  statement({ 1: 1, 2: 'Order 4711', 3: [1250, 'EUR'], 4: 'Shop GmbH', 6: 'INV-4711', ...extra });

async function rejection(p: Promise<unknown>): Promise<DeviceError> {
  try {
    await p;
  } catch (e) {
    return e as DeviceError;
  }
  throw new Error('the request succeeded, an error was expected');
}

/** Reads the statement to its end and presses OK. */
async function approve(rig: DeviceRig): Promise<void> {
  await rig.scrollTo(/-- (end|Ende) --/);
  await rig.press('OK');
}

describe('CONFIRM', () => {
  test('the statement is shown in full; OK counts only after the end was on screen', async () => {
    const rig = await deviceRig();
    const p = rig.host.request(MsgType.CONFIRM, { statement: payment() });
    let s = await rig.waitFor(/PAYMENT/);
    expect(s).toMatch(/Order 4711/);
    expect(s).toMatch(/To: Shop GmbH/);
    expect(s).toMatch(/NOT VERIFIED/);
    expect(s).toMatch(/1\/1 Check/);
    await rig.press('OK'); // too early: nothing happens but the hint
    s = await rig.waitFor(/Read all: DOWN/);
    await rig.scrollTo(/12\.50 EUR/);
    await rig.scrollTo(/Ref: INV-4711/);
    await approve(rig);
    await expect(p).resolves.toEqual({});
    await rig.waitFor(/Done/);
    expect(rig.statuses.some((st) => st.state === 2 && st.step === 1 && st.steps === 1)).toBe(true);
  });

  test('CANCEL on the device refuses; the host learns USER_REFUSED', async () => {
    const rig = await deviceRig();
    const p = rig.host.request(MsgType.CONFIRM, { statement: payment() });
    await rig.waitFor(/PAYMENT/);
    await rig.press('CANCEL');
    expect((await rejection(p)).wireCode).toBe(ErrorCode.USER_REFUSED);
    await rig.waitFor(/Refused/);
    // the result's help names the code as the protocol does (the bundle keeps those names)
    await rig.press('MENU');
    await rig.waitFor(/error 11\s+\(USER_REFUSED\)/);
    await rig.press('OK');
    await rig.waitFor(/Refused/);
    await rig.press('OK');
    await rig.waitFor(/Erika Mustermann/);
  });
});

test('a statement that scrolls: no character reaches under the scroll bar, and a row that filled the whole width before shows every character', async () => {
  const rig = await deviceRig();
  // rows of words that would fill 21 columns exactly, and an origin as long as the agent saw cut
  const text = 'abcdefghij klmnopqrst uvwxyzabcd efghijklmn opqrstuvwx yzabcdefgh ijklmnopqr';
  const p = rig.host.request(MsgType.CONFIRM, { statement: payment({ 7: text, 10: 'http://shop.test:40505' }) });
  await rig.waitFor(/PAYMENT/);
  const seen: string[] = [];
  for (let i = 0; i < 30; i++) {
    const px = rig.device.display.pixels();
    // body rows 10..54 (but the inverse bands, lit from column 0): columns 123..127 hold nothing but the scroll bar's line at 126
    for (let y = 10; y <= 54; y++) if (!px[y * 128]) for (const x of [123, 124, 125, 127]) expect([x, y, px[y * 128 + x]]).toEqual([x, y, 0]);
    seen.push(rig.screen());
    if (/-- end --/.test(rig.screen())) break;
    await rig.press('DOWN');
  }
  const all = seen.join('\n');
  // the origin is wider than a row: cut at the edge (with the continuation mark) and continued below, whole
  expect(all).toMatch(/http:\/\/shop\.test:405\S?\s*\n\s*05/);
  for (const w of text.split(' ')) expect(all).toContain(w);
  await rig.press('OK');
  await expect(p).resolves.toEqual({});
});

describe('SIGN', () => {
  test('OK + PIN: the card signs the Sig_structure the device built; the host gets the signature only', async () => {
    const rig = await deviceRig({ pin: '9157' });
    const st = statement({ 1: 2, 2: 'Contract', 7: 'I agree to the terms.' });
    const p = rig.host.request(MsgType.SIGN, { statement: st });
    await rig.waitFor(/DOCUMENT TO SIGN/);
    await approve(rig);
    await rig.waitFor(/Enter your PIN/);
    await rig.type('9157');
    expect(rig.screen()).toMatch(/\*\*\*\*/);
    expect(rig.screen()).not.toMatch(/9157/);
    await rig.press('OK');
    const res = (await p) as { protected: Uint8Array; signature: Uint8Array; kid: Uint8Array };
    expect(Buffer.from(res.protected).toString('hex')).toBe('a10126');
    const sigStructure = encodeCanonical(['Signature1', res.protected, new Uint8Array(0), st]);
    expect(p256.verify(res.signature, sha256(sigStructure), rig.persona.publicKey, { prehash: false })).toBe(true);
    expect(Buffer.from(res.kid).toString('hex')).toBe(Buffer.from(sha256(rig.persona.publicKey).slice(0, 8)).toString('hex'));
    // the PIN never crossed the link, in either direction
    const { fromDevice, fromHost } = rig.traffic();
    for (const buf of [fromDevice, fromHost]) {
      expect(buf.includes(Buffer.from('9157'))).toBe(false);
      expect(buf.includes(Buffer.from([0x39, 0x31, 0x35, 0x37, 0xff]))).toBe(false);
    }
  });

  test('wrong PIN ends the operation with the tries left; three wrong block the card; the PUK unblocks it', async () => {
    const rig = await deviceRig();
    const st = statement({ 1: 2, 2: 'Contract', 7: 'Text' });
    for (const left of [2, 1]) {
      const p = rig.host.request(MsgType.SIGN, { statement: st });
      await rig.waitFor(/DOCUMENT TO SIGN/);
      await approve(rig);
      await rig.waitFor(/Enter your PIN/);
      await rig.type('0000');
      await rig.press('OK');
      const e = await rejection(p);
      expect([e.wireCode, e.triesLeft]).toEqual([ErrorCode.PIN_FAILED, left]);
      await rig.waitFor(new RegExp(`Wrong PIN. ${left} tries\\s+left`));
      await rig.press('OK');
    }
    const p3 = rig.host.request(MsgType.SIGN, { statement: st });
    await rig.waitFor(/DOCUMENT TO SIGN/);
    await approve(rig);
    await rig.waitFor(/Enter your PIN/);
    await rig.type('0000');
    await rig.press('OK');
    expect((await rejection(p3)).wireCode).toBe(ErrorCode.PIN_BLOCKED);
    await rig.waitFor(/blocked/);
    await rig.press('OK');
    // MENU → 4 Unblock with PUK: PUK, new PIN twice
    await rig.press('MENU');
    await rig.waitFor(/Unblock with PUK/);
    await rig.press('4');
    await rig.waitFor(/PUK \(8 digits\)/);
    await rig.type('12345678');
    await rig.press('OK');
    await rig.waitFor(/New PIN/);
    await rig.type('4321');
    await rig.press('OK');
    await rig.waitFor(/New PIN again/);
    await rig.type('4321');
    await rig.press('OK');
    await rig.waitFor(/Done/);
    await rig.press('OK');
    // the new PIN signs
    const p4 = rig.host.request(MsgType.SIGN, { statement: st });
    await rig.waitFor(/DOCUMENT TO SIGN/);
    await approve(rig);
    await rig.waitFor(/Enter your PIN/);
    await rig.type('4321');
    await rig.press('OK');
    await expect(p4).resolves.toHaveProperty('signature');
  });
});

describe('registration: a new key on the card, its certificate back onto the card', () => {
  const registration = statement({ 1: 2, 2: 'Registration', 7: 'Register this card with the code 1234-ABCD-5678-EF90' });
  const onCard = (rig: DeviceRig, record: string): Uint8Array | undefined => CardStore.open(rig.persona.nv).read(record);

  test('SIGN with newKey: the device says so before the statement; one OK and one PIN make the key and the signature that proves it; STORE_CERT puts the CA\u2019s certificate on the card', async () => {
    const rig = await deviceRig({ pin: '9157' });
    const oldCert = onCard(rig, R.cert) as Uint8Array;
    const p = rig.host.request(MsgType.SIGN, { statement: registration, newKey: true });
    const first = await rig.waitFor(/NEW KEY/);
    expect(first).not.toMatch(/DOCUMENT TO SIGN/); // the warning comes first
    await rig.press('OK'); // too early: only the hint
    await rig.waitFor(/Read all: DOWN/);
    await approve(rig);
    await rig.waitFor(/Enter your PIN/);
    await rig.type('9157');
    await rig.press('OK');
    const res = (await p) as { signature: Uint8Array; kid: Uint8Array; key: Uint8Array; card: Uint8Array };
    // a new key, the card's own, and the signature is by it
    expect(Buffer.from(res.key)).not.toEqual(Buffer.from(rig.persona.publicKey));
    expect(Buffer.from(res.key)).toEqual(Buffer.from(onCard(rig, R.pub) as Uint8Array));
    expect(Buffer.from(res.card)).toEqual(Buffer.from(rig.persona.cardId));
    expect(Buffer.from(res.kid)).toEqual(Buffer.from(sha256(res.key).slice(0, 8)));
    const sigStructure = encodeCanonical(['Signature1', Uint8Array.of(0xa1, 0x01, 0x26), new Uint8Array(0), registration]);
    expect(p256.verify(res.signature, sha256(sigStructure), res.key, { prehash: false })).toBe(true);
    // the old key's certificate is void on the card
    expect(onCard(rig, R.cert)?.length ?? 0).toBe(0);
    expect(oldCert.length).toBeGreaterThan(0);
    // the PIN never crossed the link, though the device presented it to the card twice
    for (const buf of Object.values(rig.traffic())) expect(buf.includes(Buffer.from('9157'))).toBe(false);
    await rig.waitFor(/Done/);
    await rig.press('OK');

    // a certificate for another key, one from another CA, one naming another card: the card refuses each, keeps none
    const other = p256.getPublicKey(p256.utils.randomPrivateKey(), false);
    const wrongKey = issueCertificate({ subject: 'Erika Mustermann', publicKey: other, role: 1, subjectId: rig.persona.cardId }, rig.ca.privateKey);
    const wrongCa = issueCertificate({ subject: 'Erika Mustermann', publicKey: res.key, role: 1, subjectId: rig.persona.cardId }, p256.utils.randomPrivateKey());
    const wrongCard = issueCertificate({ subject: 'Erika Mustermann', publicKey: res.key, role: 1, subjectId: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }, rig.ca.privateKey);
    const wrongRole = issueCertificate({ subject: 'Erika Mustermann', publicKey: res.key, role: 2, subjectId: rig.persona.cardId }, rig.ca.privateKey);
    const refusals: [Uint8Array, number, string | undefined][] = [];
    for (const c of [wrongKey, wrongCa, wrongCard, wrongRole]) {
      const e = await rejection(rig.host.request(MsgType.STORE_CERT, { certificate: c }));
      refusals.push([c, e.wireCode as number, e.path]);
      await rig.waitFor(/Failed/);
      await rig.press('OK');
    }
    expect(refusals.map((r) => [r[1], r[2]])).toEqual([
      [ErrorCode.CARD_ERROR, 'SW:6985'],
      [ErrorCode.VERIFY_FAILED, 'SW:6300'],
      [ErrorCode.CARD_ERROR, 'SW:6985'],
      [ErrorCode.CARD_ERROR, 'SW:6985'],
    ]);
    expect(onCard(rig, R.cert)?.length ?? 0).toBe(0);
    // the CA's certificate for the new key, naming this card: kept, no one needed at the keypad
    const good = issueCertificate({ subject: 'Erika Mustermann', publicKey: res.key, role: 1, subjectId: rig.persona.cardId }, rig.ca.privateKey);
    await expect(rig.host.request(MsgType.STORE_CERT, { certificate: good })).resolves.toEqual({});
    expect(Buffer.from(onCard(rig, R.cert) as Uint8Array)).toEqual(Buffer.from(good));
    expect(rig.statuses.some((st) => st.label === 'Store certificate' && st.state === 4)).toBe(true);
    // and the next purse payment carries it: the token verifies with the new key
    const pay = rig.host.request(MsgType.PURSE_DEBIT, { statement: payment() });
    await rig.waitFor(/PAYMENT/);
    await approve(rig);
    await rig.waitFor(/Enter your PIN/);
    await rig.type('9157');
    await rig.press('OK');
    const { token } = (await pay) as { token: Uint8Array };
    expect(verifyToken(token, res.key)).toMatchObject({ amount: 1250, currency: 'EUR' });
  });

  test('newKey only for a DOCUMENT; refused or cancelled, the card keeps its key and its certificate', async () => {
    const rig = await deviceRig();
    const key = onCard(rig, R.pub) as Uint8Array;
    const cert = onCard(rig, R.cert) as Uint8Array;
    const e = await rejection(rig.host.request(MsgType.SIGN, { statement: payment(), newKey: true }));
    expect([e.wireCode, e.path]).toEqual([ErrorCode.SCHEMA, 'statement.1']);
    const p = rig.host.request(MsgType.SIGN, { statement: registration, newKey: true });
    await rig.waitFor(/NEW KEY/);
    await rig.press('CANCEL');
    expect((await rejection(p)).wireCode).toBe(ErrorCode.USER_REFUSED);
    await rig.waitFor(/Refused/);
    await rig.press('OK');
    // a wrong PIN: nothing is made either
    const q = rig.host.request(MsgType.SIGN, { statement: registration, newKey: true });
    await rig.waitFor(/NEW KEY/);
    await approve(rig);
    await rig.waitFor(/Enter your PIN/);
    await rig.type('0000');
    await rig.press('OK');
    expect((await rejection(q)).wireCode).toBe(ErrorCode.PIN_FAILED);
    expect(Buffer.from(onCard(rig, R.pub) as Uint8Array)).toEqual(Buffer.from(key));
    expect(Buffer.from(onCard(rig, R.cert) as Uint8Array)).toEqual(Buffer.from(cert));
  });
});

describe('purse', () => {
  test('debit: statement, OK, PIN → a card-signed token; balance and log follow', async () => {
    const rig = await deviceRig({ balance: 5000 });
    const st = payment();
    const p = rig.host.request(MsgType.PURSE_DEBIT, { statement: st });
    await rig.waitFor(/PAYMENT/);
    await approve(rig);
    await rig.waitFor(/Enter your PIN/);
    expect(rig.screen()).toMatch(/12\.50 EUR/); // the PIN prompt says what it is for
    await rig.type('1234');
    await rig.press('OK');
    const { token } = (await p) as { token: Uint8Array };
    const tok = verifyToken(token, rig.persona.publicKey);
    expect(tok).toMatchObject({ payee: 'Shop GmbH', amount: 1250, currency: 'EUR' });
    expect(Buffer.from(tok!.txDigest).equals(Buffer.from(sha256(st)))).toBe(true);
    await expect(rig.host.request(MsgType.PURSE_BALANCE, {})).resolves.toEqual({ balance: { amount: 3750, currency: 'EUR' } });
    const log = (await rig.host.request(MsgType.READ_LOG, {})) as { entries: { kind: number; amount: number; party: string }[] };
    expect(log.entries[0]).toMatchObject({ kind: 1, amount: 1250, party: 'Shop GmbH' });
  });

  test('debit beyond the balance: INSUFFICIENT_FUNDS, explained, nothing taken', async () => {
    const rig = await deviceRig({ balance: 1000 });
    const p = rig.host.request(MsgType.PURSE_DEBIT, { statement: payment() });
    await rig.waitFor(/PAYMENT/);
    await approve(rig);
    await rig.waitFor(/Enter your PIN/);
    await rig.type('1234');
    await rig.press('OK');
    expect((await rejection(p)).wireCode).toBe(ErrorCode.INSUFFICIENT_FUNDS);
    await rig.waitFor(/Not enough money/);
    await expect(rig.host.request(MsgType.PURSE_BALANCE, {})).resolves.toEqual({ balance: { amount: 1000, currency: 'EUR' } });
  });

  test('load: the amount and issuer are shown, OK loads; a replay is refused', async () => {
    const rig = await deviceRig({ balance: 0 });
    const instr = makeLoadInstruction(rig.issuer.privateKey, { cardId: rig.persona.cardId, loadCounter: 1, amount: 2000, currency: 'EUR', issuerName: 'Sparkasse' });
    const p = rig.host.request(MsgType.PURSE_LOAD, { instruction: instr });
    const s = await rig.waitFor(/LOAD PURSE/);
    expect(s).toMatch(/From: Sparkasse/);
    await approve(rig);
    await expect(p).resolves.toEqual({ balance: { amount: 2000, currency: 'EUR' } });
    await rig.press('OK');
    const again = rig.host.request(MsgType.PURSE_LOAD, { instruction: instr });
    await rig.waitFor(/LOAD PURSE/);
    await approve(rig);
    expect((await rejection(again)).wireCode).toBe(ErrorCode.REPLAYED);
  });

  test('balance and history from the device menu', async () => {
    const rig = await deviceRig({ balance: 5000 });
    await rig.press('OK');
    await rig.waitFor(/50\.00 EUR/);
    await rig.press('MENU');
    await rig.waitFor(/2 History/);
    await rig.press('2');
    await rig.waitFor(/No payments yet/);
  });
});

describe('offers', () => {
  test('a verified offer shows the merchant from its certificate; an unknown offer or another payee is refused', async () => {
    const rig = await deviceRig();
    const merchant = newKeyPair('merchant');
    const cert = issueCertificate({ subject: 'Buch & Co', publicKey: merchant.publicKey, role: 2, notAfter: 4102444800 }, rig.ca.privateKey);
    const offer = coseSign1(encodeCanonical(new Map<number, HostCbor>([[1, 'Offer 17']])), merchant.privateKey);
    const v = (await rig.host.request(MsgType.VERIFY_OFFER, { certificate: cert, offer })) as { merchant: string; offerDigest: Uint8Array; validUntil: number };
    expect(v.merchant).toBe('Buch & Co');
    expect(v.validUntil).toBe(4102444800);
    expect(Buffer.from(v.offerDigest).equals(Buffer.from(sha256(offer)))).toBe(true);
    const p = rig.host.request(MsgType.CONFIRM, { statement: statement({ 1: 1, 2: 'Books', 3: [999, 'EUR'], 5: v.offerDigest }) });
    const s = await rig.waitFor(/To: Buch & Co/);
    expect(s).toMatch(/verified merchant/);
    await approve(rig);
    await p;
    const unknown = await rejection(rig.host.request(MsgType.CONFIRM, { statement: statement({ 1: 1, 2: 'Books', 3: [999, 'EUR'], 5: new Uint8Array(32) }) }));
    expect([unknown.wireCode, unknown.path]).toEqual([ErrorCode.NOT_VERIFIED, 'statement.5']);
    const other = await rejection(rig.host.request(MsgType.CONFIRM, { statement: statement({ 1: 1, 2: 'Books', 3: [999, 'EUR'], 4: 'Evil Ltd', 5: v.offerDigest }) }));
    expect([other.wireCode, other.path]).toEqual([ErrorCode.NOT_VERIFIED, 'statement.4']);
    // a certificate from another CA is not accepted
    const rogue = issueCertificate({ subject: 'Buch & Co', publicKey: merchant.publicKey, role: 2 }, newKeyPair('rogue CA').privateKey);
    expect((await rejection(rig.host.request(MsgType.VERIFY_OFFER, { certificate: rogue, offer }))).wireCode).toBe(ErrorCode.VERIFY_FAILED);
  });
});

describe('refusals before anything is shown', () => {
  test('look-alike names, unknown currencies and missing fields are refused with the field named', async () => {
    const rig = await deviceRig();
    const cases: [Uint8Array, number, string][] = [
      [payment({ 4: 'Sh\u043ep' }), ErrorCode.UNDISPLAYABLE, 'statement.4'],
      [payment({ 2: 'Pay\u202e' }), ErrorCode.UNDISPLAYABLE, 'statement.2'],
      [payment({ 3: [100, 'XXX'] }), ErrorCode.UNDISPLAYABLE, 'statement.3'],
      [statement({ 1: 1, 2: 'No amount', 4: 'Shop' }), ErrorCode.SCHEMA, 'statement.3'],
      [statement({ 1: 3, 2: 'Pairing', 11: '1234' }), ErrorCode.SCHEMA, 'statement.1'],
    ];
    for (const [st, code, path] of cases) {
      const e = await rejection(rig.host.request(MsgType.SIGN, { statement: st }));
      expect([e.wireCode, e.path]).toEqual([code, path]);
    }
    expect(rig.screen()).toMatch(/Erika Mustermann/); // nothing was shown
  });

  test('CANCEL from the host ends the prompt on the device; the next request needs a fresh confirmation', async () => {
    const rig = await deviceRig();
    const ac = new AbortController();
    const first = rig.host.request(MsgType.CONFIRM, { statement: payment() }, { signal: ac.signal });
    await rig.waitFor(/PAYMENT/);
    ac.abort();
    expect((await rejection(first)).code).toBe('ABORTED');
    await rig.waitFor(/Stopped by the PC/);
    await until(() => rig.statuses.some((st) => st.state === 0 && st.id === 0), 'STATUS IDLE');
    const second = rig.host.request(MsgType.CONFIRM, { statement: payment() });
    await rig.waitFor(/PAYMENT/);
    await approve(rig);
    await expect(second).resolves.toEqual({});
  });
});

describe('help and language', () => {
  test('MENU during a prompt explains it; the language can be switched to German and is kept', async () => {
    const rig = await deviceRig();
    const p = rig.host.request(MsgType.CONFIRM, { statement: payment() });
    await rig.waitFor(/PAYMENT/);
    await rig.press('MENU');
    await rig.waitFor(/Read everything with/);
    await rig.press('OK');
    await rig.waitFor(/PAYMENT/);
    await rig.press('CANCEL');
    await rejection(p);
    await rig.press('OK');
    await rig.press('MENU');
    await rig.press('5');
    await rig.waitFor(/Deutsch/);
    await rig.press('2');
    await rig.waitFor(/OK:Saldo/);
    const q = rig.host.request(MsgType.CONFIRM, { statement: payment() });
    const s = await rig.waitFor(/ZAHLUNG/);
    expect(s).toMatch(/An: Shop GmbH/);
    await rig.scrollTo(/12,50 EUR/);
    await approve(rig).catch(() => undefined);
    await until(() => /Erledigt/.test(rig.screen()), 'Erledigt');
    await q;
  });
});
