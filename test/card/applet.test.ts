import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { decodeCanonical } from '../../shared/src/cbor';
import { SW } from '../../board/card/apdu';
import { AID, decodeMoney, DO, INS, kidOf, pinBlock } from '../../board/card/applet';
import { CARD_CBOR_LIMITS, decodeSign1, issueCertificate, verifyCertificate } from '../../board/card/cose';
import { makeLoadInstruction, newKeyPair, verifyToken } from '../../board/card/personalise';
import { CA, CARD_ID, ISSUER, newPerso, Session } from './applet-helpers';
import { hexs } from './harness';

function session(balance = 10_000) {
  const p = newPerso(balance);
  const s = new Session(p.nv);
  expect(s.select().sw).toBe(SW.OK);
  return { s, p };
}

const cat = (...a: Uint8Array[]) => Uint8Array.from(a.flatMap((x) => [...x]));
const load = (counter: number, amount = 500, extra: Partial<Parameters<typeof makeLoadInstruction>[1]> = {}, key = ISSUER.privateKey) =>
  makeLoadInstruction(key, { cardId: CARD_ID, loadCounter: counter, amount, currency: 'EUR', issuerName: 'Test Bank', time: 1_700_000_100, ...extra });

describe('applet: selection and dispatch', () => {
  test('SELECT by AID returns the FCI; wrong AID 6A82; P1/P2 6A86; length 6700', () => {
    const p = newPerso();
    const s = new Session(p.nv);
    expect(s.send(0, INS.GET_DATA, 1, DO.CARD_ID).sw).toBe(SW.INS_NOT_SUPPORTED); // not selected
    const r = s.select();
    expect(r.sw).toBe(SW.OK);
    expect(hexs(r.data)).toBe('6F 0D 84 08 ' + hexs(AID) + ' 85 01 01');
    expect(s.send(0, INS.SELECT, 4, 0x0c, AID).data).toHaveLength(0);
    expect(s.send(0, INS.SELECT, 4, 0, Uint8Array.of(0xa0, 0, 0, 0, 3)).sw).toBe(SW.FILE_NOT_FOUND);
    expect(s.send(0, INS.GET_DATA, 1, DO.CARD_ID).sw).toBe(SW.INS_NOT_SUPPORTED); // deselected
    expect(s.send(0, INS.SELECT, 0, 0, AID).sw).toBe(SW.INCORRECT_P1P2);
    expect(s.send(0, INS.SELECT, 4, 0, Uint8Array.of(1, 2)).sw).toBe(SW.WRONG_LENGTH);
  });

  test('unknown CLA 6E00, unknown INS 6D00, malformed APDU 6700', () => {
    const { s } = session();
    expect(s.send(0x90, INS.GET_DATA, 1, 1).sw).toBe(SW.CLA_NOT_SUPPORTED);
    expect(s.send(0x00, 0x99, 0, 0).sw).toBe(SW.INS_NOT_SUPPORTED);
    expect(s.send(0x80, INS.GET_DATA, 1, 1).sw).toBe(SW.INS_NOT_SUPPORTED); // ISO INS under CLA 80
    expect(s.send(0x00, INS.BALANCE, 0, 0).sw).toBe(SW.INS_NOT_SUPPORTED); // proprietary INS under CLA 00
    expect(s.applet.process(Uint8Array.of(0, 0xa4, 4, 0, 5, 1)).slice(-2)).toEqual(Uint8Array.of(0x67, 0x00));
  });
});

describe('applet: identity (GET DATA)', () => {
  test('every data object; unknown tag 6A88; data present 6700', () => {
    const { s, p } = session();
    expect(s.send(0, INS.GET_DATA, 1, DO.CARD_ID, undefined, 256).data).toEqual(CARD_ID);
    expect(Buffer.from(s.send(0, INS.GET_DATA, 1, DO.HOLDER).data).toString()).toBe('Alice Example');
    const cert = s.send(0, INS.GET_DATA, 1, DO.CERTIFICATE).data;
    expect(verifyCertificate(cert, CA.publicKey)).toMatchObject({ subject: 'Alice Example', role: 1, publicKey: p.publicKey, subjectId: CARD_ID });
    expect(s.send(0, INS.GET_DATA, 1, DO.PUBLIC_KEY).data).toEqual(p.publicKey);
    expect(s.send(0, INS.GET_DATA, 1, DO.CA_KEY).data).toEqual(CA.publicKey);
    expect(s.send(0, INS.GET_DATA, 1, DO.ISSUER_KEY).data).toEqual(ISSUER.publicKey);
    expect(hexs(s.send(0, INS.GET_DATA, 1, DO.TRIES).data)).toBe('03 0A');
    expect(hexs(s.send(0, INS.GET_DATA, 1, DO.COUNTERS).data)).toBe('00 00 00 00 00 00 00 00');
    expect(s.send(0, INS.GET_DATA, 1, DO.KID).data).toEqual(kidOf(p.publicKey));
    expect(Buffer.from(s.send(0, INS.GET_DATA, 1, DO.ISSUER_NAME).data).toString()).toBe('Test Bank');
    expect(s.send(0, INS.GET_DATA, 1, DO.MAX_BALANCE).data).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0xc3, 0x50));
    expect(s.send(0, INS.GET_DATA, 1, 0x7f).sw).toBe(SW.DATA_NOT_FOUND);
    expect(s.send(0, INS.GET_DATA, 2, 1).sw).toBe(SW.DATA_NOT_FOUND);
    expect(s.send(0, INS.GET_DATA, 1, 1, Uint8Array.of(1)).sw).toBe(SW.WRONG_LENGTH);
  });
});

describe('applet: PIN and PUK', () => {
  test('VERIFY: 9000; wrong → 63C2, 63C1, 63C0; then 6983 even with the right PIN', () => {
    const { s } = session();
    expect(s.send(0, INS.VERIFY, 0, 0x81).sw).toBe(0x63c3); // status query
    expect(s.verify('1234').sw).toBe(SW.OK);
    expect(s.send(0, INS.VERIFY, 0, 0x81).sw).toBe(SW.OK); // verified
    expect(s.verify('0000').sw).toBe(0x63c2);
    expect(s.send(0, INS.VERIFY, 0, 0x81).sw).toBe(0x63c2); // the failure also cleared the verification
    expect(s.verify('1234').sw).toBe(SW.OK); // success resets the counter
    expect(s.verify('0000').sw).toBe(0x63c2);
    expect(s.verify('00000').sw).toBe(0x63c1);
    expect(s.verify('99999999').sw).toBe(0x63c0);
    expect(s.verify('1234').sw).toBe(SW.AUTH_BLOCKED);
    expect(s.send(0, INS.VERIFY, 0, 0x81).sw).toBe(SW.AUTH_BLOCKED);
    expect(hexs(s.send(0, INS.GET_DATA, 1, DO.TRIES).data)).toBe('00 0A');
    // blocked survives a power cycle
    s.repower();
    s.select();
    expect(s.verify('1234').sw).toBe(SW.AUTH_BLOCKED);
  });

  test('VERIFY format errors: 6700, 6A80, 6A86 — and they cost no try', () => {
    const { s } = session();
    expect(s.send(0, INS.VERIFY, 0, 0x81, Uint8Array.of(0x31, 0x32, 0x33, 0x34)).sw).toBe(SW.WRONG_LENGTH);
    expect(s.send(0, INS.VERIFY, 0, 0x81, Uint8Array.from([0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff])).sw).toBe(SW.WRONG_DATA); // 3 digits
    expect(s.send(0, INS.VERIFY, 0, 0x81, Uint8Array.from([0x31, 0x32, 0x33, 0x34, 0x41, 0xff, 0xff, 0xff])).sw).toBe(SW.WRONG_DATA);
    expect(s.send(0, INS.VERIFY, 0, 0x82, pinBlock('1234')).sw).toBe(SW.INCORRECT_P1P2);
    expect(s.send(0, INS.VERIFY, 0, 0x81).sw).toBe(0x63c3);
  });

  test('RESET RETRY COUNTER with the PUK: unblocks (with or without a new PIN); PUK has 10 tries then 6983', () => {
    const { s } = session();
    for (const pin of ['0000', '0001', '0002']) s.verify(pin);
    expect(s.verify('1234').sw).toBe(SW.AUTH_BLOCKED);
    expect(s.send(0, INS.RESET_RETRY_COUNTER, 1, 0x81, pinBlock('87654321')).sw).toBe(0x63c9);
    expect(s.send(0, INS.RESET_RETRY_COUNTER, 1, 0x81, pinBlock('12345678')).sw).toBe(SW.OK);
    expect(s.verify('1234').sw).toBe(SW.OK);
    // with a new PIN
    expect(s.send(0, INS.RESET_RETRY_COUNTER, 0, 0x81, Uint8Array.from([...pinBlock('12345678'), ...pinBlock('246810')])).sw).toBe(SW.OK);
    expect(s.verify('1234').sw).toBe(0x63c2);
    expect(s.verify('246810').sw).toBe(SW.OK);
    // format errors
    expect(s.send(0, INS.RESET_RETRY_COUNTER, 1, 0x81, pinBlock('1234')).sw).toBe(SW.WRONG_DATA); // PUK must be 8 digits
    expect(s.send(0, INS.RESET_RETRY_COUNTER, 0, 0x81, pinBlock('12345678')).sw).toBe(SW.WRONG_LENGTH);
    expect(s.send(0, INS.RESET_RETRY_COUNTER, 2, 0x81, pinBlock('12345678')).sw).toBe(SW.INCORRECT_P1P2);
    // PUK blocked after 10 wrong tries
    const sws: number[] = [];
    for (let i = 0; i < 10; i++) sws.push(s.send(0, INS.RESET_RETRY_COUNTER, 1, 0x81, pinBlock('00000000')).sw);
    expect(sws).toEqual([0x63c9, 0x63c8, 0x63c7, 0x63c6, 0x63c5, 0x63c4, 0x63c3, 0x63c2, 0x63c1, 0x63c0]);
    expect(s.send(0, INS.RESET_RETRY_COUNTER, 1, 0x81, pinBlock('12345678')).sw).toBe(SW.AUTH_BLOCKED);
  });

  test('CHANGE REFERENCE DATA: old PIN checked against the counter; new PIN in force; does not verify', () => {
    const { s } = session();
    const crd = (o: string, n: string) => s.send(0, INS.CHANGE_REFERENCE_DATA, 0, 0x81, Uint8Array.from([...pinBlock(o), ...pinBlock(n)]));
    expect(crd('9999', '5555').sw).toBe(0x63c2);
    expect(crd('1234', '55556666').sw).toBe(SW.OK);
    expect(s.send(0, INS.VERIFY, 0, 0x81).sw).toBe(0x63c3); // counter reset, not verified
    expect(s.verify('1234').sw).toBe(0x63c2);
    expect(s.verify('55556666').sw).toBe(SW.OK);
    expect(s.send(0, INS.CHANGE_REFERENCE_DATA, 0, 0x81, pinBlock('1234')).sw).toBe(SW.WRONG_LENGTH);
    expect(s.send(0, INS.CHANGE_REFERENCE_DATA, 0, 0x81, Uint8Array.from([...pinBlock('55556666'), ...new Uint8Array(8)])).sw).toBe(SW.WRONG_DATA);
    expect(s.send(0, INS.CHANGE_REFERENCE_DATA, 1, 0x81, new Uint8Array(16)).sw).toBe(SW.INCORRECT_P1P2);
    for (const x of ['0000', '0001', '0002']) crd(x, '1111');
    expect(crd('55556666', '1111').sw).toBe(SW.AUTH_BLOCKED);
  });

  test('PIN try counter is decremented before the comparison: a cut at the restore write loses no try', () => {
    const { s, p } = session();
    p.nv.cutAfterWrites(1); // the decrement itself is cut: nothing changes
    expect(() => s.verify('0000')).toThrow('power cut');
    s.repower();
    s.select();
    expect(hexs(s.send(0, INS.GET_DATA, 1, DO.TRIES).data)).toBe('03 0A');
    p.nv.cutAfterWrites(2); // wrong PIN never writes twice: the cut is not reached, 63C2
    expect(s.verify('0000').sw).toBe(0x63c2);
    p.nv.cutAfterWrites(1, 'applied'); // decrement done, power lost before the answer
    expect(() => s.verify('0000')).toThrow('power cut');
    s.repower();
    s.select();
    expect(hexs(s.send(0, INS.GET_DATA, 1, DO.TRIES).data)).toBe('01 0A'); // the try is spent
  });
});

describe('applet: keys and signatures', () => {
  test('SIGN needs a PIN verification and consumes it: one verification = one signature', () => {
    const { s, p } = session();
    const digest = sha256(Buffer.from('order #1'));
    expect(s.send(0, INS.PSO, 0x9e, 0x9a, digest, 256).sw).toBe(SW.SECURITY_NOT_SATISFIED);
    expect(s.verify('1234').sw).toBe(SW.OK);
    const r = s.send(0, INS.PSO, 0x9e, 0x9a, digest, 256);
    expect(r.sw).toBe(SW.OK);
    expect(r.data).toHaveLength(64); // raw r ‖ s
    expect(p256.verify(r.data, digest, p.publicKey)).toBe(true);
    expect(s.send(0, INS.PSO, 0x9e, 0x9a, digest, 256).sw).toBe(SW.SECURITY_NOT_SATISFIED);
    expect(s.send(0, INS.PSO, 0x9e, 0x9a, digest.slice(0, 31), 256).sw).toBe(SW.WRONG_LENGTH);
    expect(s.send(0, INS.PSO, 0x9e, 0x9b, digest, 256).sw).toBe(SW.INCORRECT_P1P2);
  });

  test('the verification is lost on reset / card pulled and on re-SELECT', () => {
    const { s } = session();
    const digest = new Uint8Array(32).fill(1);
    expect(s.verify('1234').sw).toBe(SW.OK);
    s.repower();
    s.select();
    expect(s.send(0, INS.PSO, 0x9e, 0x9a, digest).sw).toBe(SW.SECURITY_NOT_SATISFIED);
    expect(s.verify('1234').sw).toBe(SW.OK);
    s.select();
    expect(s.send(0, INS.PSO, 0x9e, 0x9a, digest).sw).toBe(SW.SECURITY_NOT_SATISFIED);
  });

  test('GENERATE KEY PAIR: once (6985), replace needs the PIN (6982), read back; certificate voided', () => {
    const { s, p } = session();
    expect(s.send(0, INS.GENERATE_KEY_PAIR, 0x80, 0).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    expect(s.send(0, INS.GENERATE_KEY_PAIR, 0x80, 1).sw).toBe(SW.SECURITY_NOT_SATISFIED);
    expect(s.send(0, INS.GENERATE_KEY_PAIR, 0x81, 0, undefined, 256).data).toEqual(p.publicKey);
    s.verify('1234');
    const g = s.send(0, INS.GENERATE_KEY_PAIR, 0x80, 1, undefined, 256);
    expect(g.sw).toBe(SW.OK);
    expect(g.data).toHaveLength(65);
    expect(g.data).not.toEqual(p.publicKey);
    expect(s.send(0, INS.GET_DATA, 1, DO.PUBLIC_KEY).data).toEqual(g.data);
    expect(s.send(0, INS.GET_DATA, 1, DO.CERTIFICATE).sw).toBe(SW.DATA_NOT_FOUND);
    expect(s.send(0, INS.GENERATE_KEY_PAIR, 0x82, 0).sw).toBe(SW.INCORRECT_P1P2);
    expect(s.send(0, INS.GENERATE_KEY_PAIR, 0x80, 0, Uint8Array.of(1)).sw).toBe(SW.WRONG_LENGTH);
    // the private key never leaves: no data object returns 32 bytes of it
    for (let t = 0; t < 0x10; t++) {
      const r = s.send(0, INS.GET_DATA, 1, t);
      expect(r.data.length === 32 && r.sw === SW.OK).toBe(false);
    }
  });

  test('VERIFY DIGITAL SIGNATURE against the CA, the issuer and the last verified certificate', () => {
    const { s } = session();
    const digest = sha256(Buffer.from('hello'));
    const caSig = p256.sign(digest, CA.privateKey).toCompactRawBytes();
    const isSig = p256.sign(digest, ISSUER.privateKey).toCompactRawBytes();
    const vs = (ref: number, sig: Uint8Array) => s.send(0, INS.PSO, 0, 0xa8, cat(Uint8Array.of(ref), digest, sig)).sw;
    expect(vs(1, caSig)).toBe(SW.OK);
    expect(vs(2, isSig)).toBe(SW.OK);
    expect(vs(1, isSig)).toBe(SW.VERIFICATION_FAILED);
    expect(vs(3, isSig)).toBe(SW.CONDITIONS_NOT_SATISFIED); // no certificate verified yet
    expect(vs(9, isSig)).toBe(SW.WRONG_DATA);
    expect(s.send(0, INS.PSO, 0, 0xa8, digest).sw).toBe(SW.WRONG_LENGTH);
    // a merchant certificate, then the merchant's signature under key ref 03
    const merchant = newKeyPair('merchant');
    const cert = issueCertificate({ subject: 'Books & Co', publicKey: merchant.publicKey, role: 2 }, CA.privateKey);
    const vc = s.send(0, INS.PSO, 0, 0xbe, cert, 256);
    expect(vc.sw).toBe(SW.OK);
    expect(vc.data.slice(0, 65)).toEqual(merchant.publicKey);
    expect(vc.data[65]).toBe(2);
    expect(Buffer.from(vc.data.slice(66)).toString()).toBe('Books & Co');
    expect(vs(3, p256.sign(digest, merchant.privateKey).toCompactRawBytes())).toBe(SW.OK);
    // a certificate from another CA: 6300, and key ref 03 is forgotten
    const rogue = issueCertificate({ subject: 'Books & Co', publicKey: merchant.publicKey, role: 2 }, newKeyPair('rogue').privateKey);
    expect(s.send(0, INS.PSO, 0, 0xbe, rogue).sw).toBe(SW.VERIFICATION_FAILED);
    expect(vs(3, p256.sign(digest, merchant.privateKey).toCompactRawBytes())).toBe(SW.CONDITIONS_NOT_SATISFIED);
    expect(s.send(0, INS.PSO, 0, 0xbe, Uint8Array.of(1, 2, 3)).sw).toBe(SW.WRONG_DATA);
    expect(s.send(0, INS.PSO, 0, 0xbe).sw).toBe(SW.WRONG_LENGTH);
  });

  test('SIGN without a key: 6985', () => {
    const { s, p } = session();
    p.nv.records.set('key.priv', new Uint8Array(0));
    s.verify('1234');
    expect(s.send(0, INS.PSO, 0x9e, 0x9a, new Uint8Array(32)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
  });
});

describe('applet: purse', () => {
  test('BALANCE', () => {
    const { s } = session(1234);
    const r = s.send(0x80, INS.BALANCE, 0, 0, undefined, 256);
    expect(decodeMoney(r.data)).toEqual({ amount: 1234, currency: 'EUR' });
    expect(s.send(0x80, INS.BALANCE, 1, 0).sw).toBe(SW.INCORRECT_P1P2);
  });

  test('DEBIT returns a card-signed COSE_Sign1 token that verifies with @noble/curves; counter strictly increases', () => {
    const { s, p } = session(10_000);
    s.verify('1234');
    const digest = sha256(Buffer.from('statement'));
    const r = s.debit(1250, 'Books & Co', 'EUR', digest);
    expect(r.sw).toBe(SW.OK);
    expect(r.data.length).toBeLessThanOrEqual(512);
    const t = verifyToken(r.data, p.publicKey);
    expect(t).toEqual({ cardId: CARD_ID, counter: 1, payee: 'Books & Co', amount: 1250, currency: 'EUR', txDigest: digest, time: 1_700_000_000 });
    const cose = decodeSign1(r.data)!;
    expect(cose.unprotected.get(4)).toEqual(kidOf(p.publicKey));
    expect(hexs(cose.protectedHdr)).toBe('A1 01 26');
    expect(decodeMoney(s.send(0x80, INS.BALANCE, 0, 0).data).amount).toBe(8750);
    // one verification = one debit
    expect(s.debit(1).sw).toBe(SW.SECURITY_NOT_SATISFIED);
    s.verify('1234');
    const t2 = verifyToken(s.debit(50, 'Cafe').data, p.publicKey)!;
    expect(t2.counter).toBe(2);
    expect(hexs(s.send(0, INS.GET_DATA, 1, DO.COUNTERS).data)).toBe('00 00 00 02 00 00 00 00');
    // tampered token does not verify
    const bad = r.data.slice();
    bad[bad.length - 1] ^= 1;
    expect(verifyToken(bad, p.publicKey)).toBeNull();
  });

  test('DEBIT errors: 6982, 6A84 insufficient funds, 9401 currency, 6A80 malformed, 6700, 6A86', () => {
    const { s } = session(100);
    expect(s.debit(10).sw).toBe(SW.SECURITY_NOT_SATISFIED);
    s.verify('1234');
    expect(s.debit(101).sw).toBe(SW.INSUFFICIENT_FUNDS);
    s.verify('1234');
    expect(s.debit(10, 'Shop', 'USD').sw).toBe(SW.CURRENCY_MISMATCH);
    s.verify('1234');
    expect(s.debit(0).sw).toBe(SW.WRONG_DATA);
    expect(s.debit(10, 'Shop', 'eur').sw).toBe(SW.WRONG_DATA);
    expect(s.send(0x80, INS.DEBIT, 0, 0, new Uint8Array(47)).sw).toBe(SW.WRONG_LENGTH); // empty payee
    expect(s.debit(10, 'x'.repeat(65)).sw).toBe(SW.WRONG_LENGTH);
    const badUtf8 = new Uint8Array(48);
    badUtf8[7] = 1;
    badUtf8.set(Buffer.from('EUR'), 8);
    badUtf8[47] = 0xff;
    expect(s.send(0x80, INS.DEBIT, 0, 0, badUtf8).sw).toBe(SW.WRONG_DATA);
    expect(s.send(0x80, INS.DEBIT, 1, 0, new Uint8Array(50)).sw).toBe(SW.INCORRECT_P1P2);
    expect(decodeMoney(s.send(0x80, INS.BALANCE, 0, 0).data).amount).toBe(100);
    expect(s.send(0x80, INS.READ_LOG, 0, 0).data).toEqual(Uint8Array.of(0x80)); // empty log
  });

  test('LOAD: issuer-signed, bound to card id and load counter; replay → 9403', () => {
    const { s } = session(1000);
    const i1 = load(1, 500);
    const r = s.load(i1);
    expect(r.sw).toBe(SW.OK);
    expect(decodeMoney(r.data)).toEqual({ amount: 1500, currency: 'EUR' });
    expect(s.load(i1).sw).toBe(SW.REPLAYED); // replay
    expect(s.load(load(3, 100)).sw).toBe(SW.OK); // gaps allowed, strictly increasing
    expect(s.load(load(2, 100)).sw).toBe(SW.REPLAYED); // older one
    expect(s.load(load(4, 100, {}, newKeyPair('forger').privateKey)).sw).toBe(SW.BAD_ISSUER_SIGNATURE);
    expect(s.load(load(4, 100, { cardId: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) })).sw).toBe(SW.WRONG_CARD);
    expect(s.load(load(4, 100, { currency: 'USD' })).sw).toBe(SW.CURRENCY_MISMATCH);
    expect(s.load(load(4, 48_401)).sw).toBe(SW.LIMIT_EXCEEDED); // max 50 000
    expect(s.load(load(4, 0)).sw).toBe(SW.WRONG_DATA);
    expect(s.load(Uint8Array.of(0xa0)).sw).toBe(SW.WRONG_DATA);
    expect(s.send(0x80, INS.LOAD, 0, 0).sw).toBe(SW.WRONG_LENGTH);
    expect(s.send(0x80, INS.LOAD, 0, 1, i1).sw).toBe(SW.INCORRECT_P1P2);
    expect(decodeMoney(s.send(0x80, INS.BALANCE, 0, 0).data).amount).toBe(1600);
    expect(hexs(s.send(0, INS.GET_DATA, 1, DO.COUNTERS).data)).toBe('00 00 00 02 00 00 00 03');
  });

  test('READ LOG: newest first, last 20 entries (ring buffer), SPEC log-entry shape; P1 limits', () => {
    const { s } = session(100_000 - 60_000);
    for (let i = 1; i <= 12; i++) expect(s.load(load(i, 10 + i)).sw).toBe(SW.OK);
    for (let i = 1; i <= 12; i++) {
      s.verify('1234');
      expect(s.debit(i, `payee ${i}`).sw).toBe(SW.OK);
    }
    const all = decodeCanonical(s.send(0x80, INS.READ_LOG, 0, 0, undefined, 65536).data, CARD_CBOR_LIMITS) as unknown[][];
    expect(all).toHaveLength(20);
    expect(all[0]).toEqual([24, 1, 12, 'EUR', 'payee 12', 1_700_000_000]);
    expect(all[19]).toEqual([5, 2, 15, 'EUR', 'Test Bank', 1_700_000_100]);
    expect(all.map((e) => e[0])).toEqual(Array.from({ length: 20 }, (_, i) => 24 - i));
    const three = decodeCanonical(s.send(0x80, INS.READ_LOG, 3, 0).data, CARD_CBOR_LIMITS) as unknown[][];
    expect(three.map((e) => e[0])).toEqual([24, 23, 22]);
    expect(s.send(0x80, INS.READ_LOG, 21, 0).sw).toBe(SW.INCORRECT_P1P2);
    expect(s.send(0x80, INS.READ_LOG, 0, 1).sw).toBe(SW.INCORRECT_P1P2);
  });

  test('LAST TOKEN re-issues the token of the last debit (same payload, fresh signature); 6A88 before any debit', () => {
    const { s, p } = session();
    expect(s.send(0x80, INS.LAST_TOKEN, 0, 0).sw).toBe(SW.DATA_NOT_FOUND);
    s.verify('1234');
    const t = verifyToken(s.debit(77, 'Kiosk').data, p.publicKey)!;
    s.load(load(1, 5));
    const again = s.send(0x80, INS.LAST_TOKEN, 0, 0, undefined, 256);
    expect(again.sw).toBe(SW.OK);
    expect(verifyToken(again.data, p.publicKey)).toEqual(t);
    expect(s.send(0x80, INS.LAST_TOKEN, 1, 0).sw).toBe(SW.INCORRECT_P1P2);
  });
});
