// The SEMPER purse-and-signing applet (specified in APPLET.md): identity, PIN/PUK, on-card
// P-256 key, signatures, certificate checks and the purse (balance, debit → payment token,
// issuer-signed load, log). All persistent state lives in a CardStore; DEBIT, LOAD and key
// generation run inside one store transaction each.

import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor, HostCborMap, decodeCanonical } from '../../shared/src/cbor';
import { CommandApdu, encodeResponse, parseCommand, SW, triesLeft } from './apdu';
import { ROLE_CODE } from '../../shared/src/certificate';
import { CARD_CBOR_LIMITS, coseSign1, decodeMap, decodeSign1, verifyCertificate, verifyDigest, verifySign1 } from './cose';
import { CardStore, PowerCut, readUintBytes, uintBytes } from './store';

/** Proprietary AID: RID F0 53 45 4D 50 (F0 = unregistered/proprietary range, ISO 7816-5) + PIX 45 52 01 ("ER", version 1). */
export const AID = Uint8Array.of(0xf0, 0x53, 0x45, 0x4d, 0x50, 0x45, 0x52, 0x01);

export const PIN_TRIES = 3;
export const PUK_TRIES = 10;
export const LOG_SIZE = 20;
export const MAX_PAYEE = 64;

/** Record names in the card store. */
export const R = {
  cardId: 'id.card',
  holder: 'id.holder',
  cert: 'id.cert',
  issuerName: 'id.issuer',
  priv: 'key.priv',
  pub: 'key.pub',
  ca: 'key.ca',
  issuer: 'key.issuer',
  pin: 'pin.value',
  pinTries: 'pin.tries',
  puk: 'puk.value',
  pukTries: 'puk.tries',
  currency: 'purse.currency',
  max: 'purse.max',
  balance: 'purse.balance',
  tx: 'purse.tx',
  load: 'purse.load',
  logCount: 'log.count',
  log: (i: number) => `log.${i}`,
} as const;

export const INS = {
  SELECT: 0xa4,
  GET_DATA: 0xca,
  VERIFY: 0x20,
  CHANGE_REFERENCE_DATA: 0x24,
  RESET_RETRY_COUNTER: 0x2c,
  GENERATE_KEY_PAIR: 0x47,
  PSO: 0x2a,
  PUT_DATA: 0xda,
  BALANCE: 0x50,
  DEBIT: 0x52,
  LOAD: 0x54,
  READ_LOG: 0x56,
  LAST_TOKEN: 0x58,
} as const;

/** GET DATA tags (P1 = 01, P2 = tag). */
export const DO = {
  CARD_ID: 0x01,
  HOLDER: 0x02,
  CERTIFICATE: 0x03,
  PUBLIC_KEY: 0x04,
  CA_KEY: 0x05,
  ISSUER_KEY: 0x06,
  TRIES: 0x07,
  COUNTERS: 0x08,
  KID: 0x09,
  ISSUER_NAME: 0x0a,
  MAX_BALANCE: 0x0b,
} as const;

export interface LogEntry {
  counter: number;
  kind: 1 | 2;
  amount: number;
  currency: string;
  party: string;
  time: number;
  /** Debit only: the transaction digest bound into the token. */
  digest: Uint8Array;
}

class Sw extends Error {
  constructor(readonly sw: number) {
    super(`SW ${sw.toString(16)}`);
  }
}

const fail = (sw: number): never => {
  throw new Sw(sw);
};

const eq = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
};

/** PIN block: 4–8 ASCII digits, right-padded with FF to 8 bytes. PUK: exactly 8 digits. */
export function pinBlock(pin: string): Uint8Array {
  if (!/^[0-9]{4,8}$/.test(pin)) throw new RangeError('PIN must be 4 to 8 digits');
  const out = new Uint8Array(8).fill(0xff);
  for (let i = 0; i < pin.length; i++) out[i] = pin.charCodeAt(i);
  return out;
}

export function isPinBlock(b: Uint8Array, exactDigits?: number): boolean {
  if (b.length !== 8) return false;
  let n = 0;
  while (n < 8 && b[n] >= 0x30 && b[n] <= 0x39) n++;
  for (let i = n; i < 8; i++) if (b[i] !== 0xff) return false;
  return exactDigits !== undefined ? n === exactDigits : n >= 4;
}

export function kidOf(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).slice(0, 8);
}

export function encodeMoney(amount: number, currency: string): Uint8Array {
  const out = new Uint8Array(11);
  out.set(uintBytes(amount, 8), 0);
  out.set(Buffer.from(currency, 'ascii'), 8);
  return out;
}

export function decodeMoney(b: Uint8Array): { amount: number; currency: string } {
  return { amount: readUintBytes(b, 0, 8), currency: Buffer.from(b.slice(8, 11)).toString('ascii') };
}

const CURRENCY = /^[A-Z]{3}$/;

/** Encodes the data field of PURSE DEBIT (APPLET.md §PURSE DEBIT). */
export function encodeDebit(d: { amount: number; currency: string; time: number; txDigest: Uint8Array; payee: string }): Uint8Array {
  const payee = Buffer.from(d.payee, 'utf8');
  const out = new Uint8Array(47 + payee.length);
  out.set(uintBytes(d.amount, 8), 0);
  out.set(Buffer.from(d.currency, 'ascii').subarray(0, 3), 8);
  out.set(uintBytes(d.time, 4), 11);
  out.set(d.txDigest, 15);
  out.set(payee, 47);
  return out;
}

export interface AppletOptions {
  /** Source of private keys (tests may make it deterministic). */
  randomPrivateKey?: () => Uint8Array;
}

export class PurseApplet {
  private selected = false;
  private pinVerified = false;
  private certKey: Uint8Array | null = null;
  /** Emulated processing time of the last command, ms (key generation is slow: triggers WTX). */
  lastWorkMs = 0;

  constructor(
    private store: CardStore,
    private readonly opts: AppletOptions = {},
  ) {}

  /** Card reset, removal or power cut: volatile state is gone (selection, PIN verification). */
  reset(store?: CardStore): void {
    if (store) this.store = store;
    this.selected = false;
    this.pinVerified = false;
    this.certKey = null;
  }

  get isPinVerified(): boolean {
    return this.pinVerified;
  }

  /** Runs one command APDU; returns the response APDU. A power cut (PowerCut) propagates. */
  process(apdu: Uint8Array): Uint8Array {
    this.lastWorkMs = 5;
    let cmd: CommandApdu;
    try {
      cmd = parseCommand(apdu);
    } catch (_e) {
      return encodeResponse(new Uint8Array(0), SW.WRONG_LENGTH);
    }
    try {
      return encodeResponse(this.dispatch(cmd), SW.OK);
    } catch (e) {
      if (e instanceof Sw) return encodeResponse(new Uint8Array(0), e.sw);
      if (e instanceof PowerCut) throw e;
      // an unexpected fault: roll back whatever was begun and answer 6F00
      if (this.store.inTransaction) this.store.abort();
      return encodeResponse(new Uint8Array(0), SW.UNKNOWN);
    }
  }

  private dispatch(c: CommandApdu): Uint8Array {
    if (c.cla !== 0x00 && c.cla !== 0x80) fail(SW.CLA_NOT_SUPPORTED);
    if (c.cla === 0x00 && c.ins === INS.SELECT) return this.select(c);
    const iso = [INS.GET_DATA, INS.VERIFY, INS.CHANGE_REFERENCE_DATA, INS.RESET_RETRY_COUNTER, INS.GENERATE_KEY_PAIR, INS.PSO, INS.PUT_DATA] as number[];
    const prop = [INS.BALANCE, INS.DEBIT, INS.LOAD, INS.READ_LOG, INS.LAST_TOKEN] as number[];
    if (!(c.cla === 0x00 ? iso : prop).includes(c.ins)) fail(SW.INS_NOT_SUPPORTED);
    if (!this.selected) fail(SW.INS_NOT_SUPPORTED);
    switch (c.ins) {
      case INS.GET_DATA:
        return this.getData(c);
      case INS.VERIFY:
        return this.verify(c);
      case INS.CHANGE_REFERENCE_DATA:
        return this.changeReferenceData(c);
      case INS.RESET_RETRY_COUNTER:
        return this.resetRetryCounter(c);
      case INS.GENERATE_KEY_PAIR:
        return this.generateKeyPair(c);
      case INS.PSO:
        return this.pso(c);
      case INS.PUT_DATA:
        return this.putCertificate(c);
      case INS.BALANCE:
        this.p1p2(c, 0, 0);
        return encodeMoney(this.store.readUint(R.balance), this.store.readText(R.currency));
      case INS.DEBIT:
        return this.debit(c);
      case INS.LOAD:
        return this.load(c);
      case INS.READ_LOG:
        return this.readLog(c);
      default:
        return this.lastToken(c);
    }
  }

  private p1p2(c: CommandApdu, p1: number, p2: number): void {
    if (c.p1 !== p1 || c.p2 !== p2) fail(SW.INCORRECT_P1P2);
  }

  private select(c: CommandApdu): Uint8Array {
    if (c.p1 !== 0x04 || (c.p2 !== 0x00 && c.p2 !== 0x0c)) fail(SW.INCORRECT_P1P2);
    if (c.data.length < 5 || c.data.length > 16) fail(SW.WRONG_LENGTH);
    if (!eq(c.data, AID)) {
      this.selected = false;
      fail(SW.FILE_NOT_FOUND);
    }
    this.selected = true;
    this.pinVerified = false;
    this.certKey = null;
    if (c.p2 === 0x0c) return new Uint8Array(0);
    // FCI: 6F { 84 AID, 85 01 version }
    return Uint8Array.from([0x6f, AID.length + 5, 0x84, AID.length, ...AID, 0x85, 0x01, 0x01]);
  }

  private getData(c: CommandApdu): Uint8Array {
    if (c.data.length !== 0) fail(SW.WRONG_LENGTH);
    const s = this.store;
    const need = (v: Uint8Array | undefined): Uint8Array => v ?? fail(SW.DATA_NOT_FOUND);
    if (c.p1 !== 0x01) fail(SW.DATA_NOT_FOUND);
    switch (c.p2) {
      case DO.CARD_ID:
        return need(s.read(R.cardId));
      case DO.HOLDER:
        return need(s.read(R.holder));
      case DO.CERTIFICATE:
        return need(s.read(R.cert));
      case DO.PUBLIC_KEY:
        return need(s.read(R.pub));
      case DO.CA_KEY:
        return need(s.read(R.ca));
      case DO.ISSUER_KEY:
        return need(s.read(R.issuer));
      case DO.TRIES:
        return Uint8Array.of(s.readUint(R.pinTries), s.readUint(R.pukTries));
      case DO.COUNTERS:
        return Uint8Array.from([...uintBytes(s.readUint(R.tx), 4), ...uintBytes(s.readUint(R.load), 4)]);
      case DO.KID:
        return kidOf(need(s.read(R.pub)));
      case DO.ISSUER_NAME:
        return need(s.read(R.issuerName));
      case DO.MAX_BALANCE:
        return uintBytes(s.readUint(R.max), 8);
      default:
        return fail(SW.DATA_NOT_FOUND);
    }
  }

  /**
   * Checks a PIN or PUK against its record. The try counter is decremented in NV *before*
   * the comparison and restored only after a match, so a power cut can never save a try.
   */
  private checkSecret(valueKey: string, triesKey: string, max: number, given: Uint8Array): void {
    const tries = this.store.readUint(triesKey);
    if (tries === 0) fail(SW.AUTH_BLOCKED);
    this.store.writeUint(triesKey, tries - 1, 1);
    const stored = this.store.read(valueKey) ?? new Uint8Array(8);
    if (!eq(stored, given)) fail(triesLeft(tries - 1));
    this.store.writeUint(triesKey, max, 1);
  }

  private verify(c: CommandApdu): Uint8Array {
    this.p1p2(c, 0x00, 0x81);
    if (c.data.length === 0) {
      // status query
      const tries = this.store.readUint(R.pinTries);
      if (tries === 0) fail(SW.AUTH_BLOCKED);
      if (this.pinVerified) return new Uint8Array(0);
      return fail(triesLeft(tries));
    }
    if (c.data.length !== 8) fail(SW.WRONG_LENGTH);
    if (!isPinBlock(c.data)) fail(SW.WRONG_DATA);
    this.pinVerified = false;
    this.checkSecret(R.pin, R.pinTries, PIN_TRIES, c.data);
    this.pinVerified = true;
    return new Uint8Array(0);
  }

  private changeReferenceData(c: CommandApdu): Uint8Array {
    this.p1p2(c, 0x00, 0x81);
    if (c.data.length !== 16) fail(SW.WRONG_LENGTH);
    const old = c.data.slice(0, 8);
    const neu = c.data.slice(8, 16);
    if (!isPinBlock(old) || !isPinBlock(neu)) fail(SW.WRONG_DATA);
    this.pinVerified = false;
    this.checkSecret(R.pin, R.pinTries, PIN_TRIES, old);
    this.store.write(R.pin, neu);
    return new Uint8Array(0);
  }

  private resetRetryCounter(c: CommandApdu): Uint8Array {
    if (c.p2 !== 0x81 || (c.p1 !== 0x00 && c.p1 !== 0x01)) fail(SW.INCORRECT_P1P2);
    const want = c.p1 === 0x00 ? 16 : 8;
    if (c.data.length !== want) fail(SW.WRONG_LENGTH);
    const puk = c.data.slice(0, 8);
    const neu = c.p1 === 0x00 ? c.data.slice(8, 16) : null;
    if (!isPinBlock(puk, 8) || (neu && !isPinBlock(neu))) fail(SW.WRONG_DATA);
    this.pinVerified = false;
    this.checkSecret(R.puk, R.pukTries, PUK_TRIES, puk);
    this.store.begin();
    if (neu) this.store.write(R.pin, neu);
    this.store.writeUint(R.pinTries, PIN_TRIES, 1);
    this.store.commit();
    return new Uint8Array(0);
  }

  private generateKeyPair(c: CommandApdu): Uint8Array {
    if (c.data.length !== 0) fail(SW.WRONG_LENGTH);
    if (c.p1 === 0x81 && c.p2 === 0x00) return this.store.read(R.pub) ?? fail(SW.DATA_NOT_FOUND);
    if (c.p1 !== 0x80 || (c.p2 !== 0x00 && c.p2 !== 0x01)) fail(SW.INCORRECT_P1P2);
    const exists = this.store.read(R.priv) !== undefined;
    if (exists && c.p2 === 0x00) fail(SW.CONDITIONS_NOT_SATISFIED);
    if (exists) {
      if (!this.pinVerified) fail(SW.SECURITY_NOT_SATISFIED);
      this.pinVerified = false;
    }
    const priv = (this.opts.randomPrivateKey ?? p256.utils.randomPrivateKey)();
    const pub = p256.getPublicKey(priv, false);
    this.store.begin();
    this.store.write(R.priv, priv);
    this.store.write(R.pub, pub);
    this.store.write(R.cert, new Uint8Array(0)); // a certificate for the old key is void
    this.store.commit();
    this.lastWorkMs = 4000;
    return pub;
  }

  /**
   * PUT DATA 03: the card keeps a certificate for its own key — signed by the CA root it stores,
   * for its current public key, role buyer-card, naming this card if it names one. The card
   * checks all of it, so no PIN is needed: a host can store nothing but a valid certificate of
   * this very card (registration writes back what the CA issued for a freshly made key).
   */
  private putCertificate(c: CommandApdu): Uint8Array {
    this.p1p2(c, 0x01, DO.CERTIFICATE);
    if (c.data.length === 0) fail(SW.WRONG_LENGTH);
    if (!decodeSign1(c.data)) fail(SW.WRONG_DATA);
    const ca = this.store.read(R.ca) ?? fail(SW.DATA_NOT_FOUND);
    const pub = this.store.read(R.pub) ?? fail(SW.CONDITIONS_NOT_SATISFIED);
    this.lastWorkMs = 200;
    const cert = verifyCertificate(c.data, ca) ?? fail(SW.VERIFICATION_FAILED);
    const id = this.store.read(R.cardId);
    if (!eq(cert.publicKey, pub) || cert.role !== ROLE_CODE['buyer-card'] || (cert.subjectId && (!id || !eq(cert.subjectId, id)))) fail(SW.CONDITIONS_NOT_SATISFIED);
    this.store.begin();
    this.store.write(R.cert, c.data);
    this.store.commit();
    return new Uint8Array(0);
  }

  private pso(c: CommandApdu): Uint8Array {
    if (c.p1 === 0x9e && c.p2 === 0x9a) {
      // COMPUTE DIGITAL SIGNATURE over a 32-byte digest
      if (c.data.length !== 32) fail(SW.WRONG_LENGTH);
      const priv = this.store.read(R.priv) ?? fail(SW.CONDITIONS_NOT_SATISFIED);
      if (!this.pinVerified) fail(SW.SECURITY_NOT_SATISFIED);
      this.pinVerified = false; // one verification = one signature
      this.lastWorkMs = 200;
      return p256.sign(c.data, priv).toCompactRawBytes();
    }
    if (c.p1 === 0x00 && c.p2 === 0xa8) {
      // VERIFY DIGITAL SIGNATURE: key ref ‖ digest(32) ‖ r‖s(64)
      if (c.data.length !== 97) fail(SW.WRONG_LENGTH);
      const ref = c.data[0];
      let key: Uint8Array | undefined;
      if (ref === 0x01) key = this.store.read(R.ca);
      else if (ref === 0x02) key = this.store.read(R.issuer);
      else if (ref === 0x03) key = this.certKey ?? fail(SW.CONDITIONS_NOT_SATISFIED);
      else fail(SW.WRONG_DATA);
      if (!key) fail(SW.DATA_NOT_FOUND);
      this.lastWorkMs = 200;
      if (!verifyDigest(key!, c.data.slice(1, 33), c.data.slice(33, 97))) fail(SW.VERIFICATION_FAILED);
      return new Uint8Array(0);
    }
    if (c.p1 === 0x00 && c.p2 === 0xbe) {
      // VERIFY CERTIFICATE against the stored CA root key
      if (c.data.length === 0) fail(SW.WRONG_LENGTH);
      if (!decodeSign1(c.data)) fail(SW.WRONG_DATA);
      const ca = this.store.read(R.ca) ?? fail(SW.DATA_NOT_FOUND);
      this.certKey = null;
      const cert = verifyCertificate(c.data, ca);
      if (!cert) fail(SW.VERIFICATION_FAILED);
      this.certKey = cert!.publicKey;
      this.lastWorkMs = 200;
      return Uint8Array.from([...cert!.publicKey, cert!.role, ...Buffer.from(cert!.subject, 'utf8')]);
    }
    return fail(SW.INCORRECT_P1P2);
  }

  // ------------------------------------------------------------------------------- purse

  private appendLog(e: LogEntry): void {
    const n = this.store.readUint(R.logCount);
    this.store.write(R.log(n % LOG_SIZE), encodeCanonical([e.counter, e.kind, e.amount, e.currency, e.party, e.time, e.digest]));
    this.store.writeUint(R.logCount, n + 1, 4);
  }

  /** Log entries, newest first. */
  logEntries(max = LOG_SIZE): LogEntry[] {
    const n = this.store.readUint(R.logCount);
    const out: LogEntry[] = [];
    for (let i = n - 1; i >= 0 && i >= n - LOG_SIZE && out.length < max; i--) {
      const raw = this.store.read(R.log(i % LOG_SIZE));
      if (!raw) break;
      const v = decodeCanonical(raw, CARD_CBOR_LIMITS) as HostCbor[];
      out.push({
        counter: v[0] as number,
        kind: v[1] as 1 | 2,
        amount: v[2] as number,
        currency: v[3] as string,
        party: v[4] as string,
        time: v[5] as number,
        digest: v[6] as Uint8Array,
      });
    }
    return out;
  }

  private token(e: LogEntry): Uint8Array {
    const priv = this.store.read(R.priv) ?? fail(SW.CONDITIONS_NOT_SATISFIED);
    const pub = this.store.read(R.pub)!;
    const payload: HostCborMap = new Map<number | string, HostCbor>([
      [1, this.store.read(R.cardId) ?? new Uint8Array(0)],
      [2, e.counter],
      [3, e.party],
      [4, [e.amount, e.currency]],
      [5, e.digest],
      [6, e.time],
    ]);
    return coseSign1(encodeCanonical(payload), priv, kidOf(pub));
  }

  private debit(c: CommandApdu): Uint8Array {
    this.p1p2(c, 0, 0);
    if (c.data.length < 48 || c.data.length > 47 + MAX_PAYEE) fail(SW.WRONG_LENGTH);
    const d = c.data;
    const amount = readUintBytes(d, 0, 8);
    const currency = Buffer.from(d.slice(8, 11)).toString('latin1');
    const time = readUintBytes(d, 11, 4);
    const digest = d.slice(15, 47);
    let payee: string;
    try {
      payee = new TextDecoder('utf-8', { fatal: true }).decode(d.slice(47));
    } catch (_e) {
      return fail(SW.WRONG_DATA);
    }
    if (!Number.isSafeInteger(amount) || amount === 0 || !CURRENCY.test(currency)) fail(SW.WRONG_DATA);
    if (this.store.read(R.priv) === undefined) fail(SW.CONDITIONS_NOT_SATISFIED);
    if (!this.pinVerified) fail(SW.SECURITY_NOT_SATISFIED);
    this.pinVerified = false; // one verification = one debit
    if (currency !== this.store.readText(R.currency)) fail(SW.CURRENCY_MISMATCH);
    const balance = this.store.readUint(R.balance);
    if (amount > balance) fail(SW.INSUFFICIENT_FUNDS);
    const counter = this.store.readUint(R.tx) + 1;
    const entry: LogEntry = { counter, kind: 1, amount, currency, party: payee, time, digest };
    this.store.begin();
    this.store.writeUint(R.balance, balance - amount, 8);
    this.store.writeUint(R.tx, counter, 4);
    this.appendLog(entry);
    this.store.commit();
    // the token is made only after the commit: no token without a committed debit
    this.lastWorkMs = 300;
    return this.token(entry);
  }

  private load(c: CommandApdu): Uint8Array {
    this.p1p2(c, 0, 0);
    if (c.data.length === 0) fail(SW.WRONG_LENGTH);
    if (!decodeSign1(c.data)) fail(SW.WRONG_DATA);
    const issuerKey = this.store.read(R.issuer) ?? fail(SW.DATA_NOT_FOUND);
    const payload = verifySign1(c.data, issuerKey) ?? fail(SW.BAD_ISSUER_SIGNATURE);
    const m = decodeMap(payload) ?? fail(SW.WRONG_DATA);
    const cardId = m.get(1);
    const loadCounter = m.get(2);
    const money = m.get(3);
    const issuer = m.get(4);
    const time = m.get(5) ?? 0;
    if (!(cardId instanceof Uint8Array) || typeof loadCounter !== 'number' || !Array.isArray(money) || money.length !== 2) fail(SW.WRONG_DATA);
    const [amount, currency] = money as HostCbor[];
    if (typeof amount !== 'number' || amount <= 0 || typeof currency !== 'string' || !CURRENCY.test(currency)) fail(SW.WRONG_DATA);
    if (typeof issuer !== 'string' || typeof time !== 'number') fail(SW.WRONG_DATA);
    if (!eq(cardId as Uint8Array, this.store.read(R.cardId) ?? new Uint8Array(0))) fail(SW.WRONG_CARD);
    if ((loadCounter as number) <= this.store.readUint(R.load)) fail(SW.REPLAYED);
    if (currency !== this.store.readText(R.currency)) fail(SW.CURRENCY_MISMATCH);
    const balance = this.store.readUint(R.balance);
    const after = balance + (amount as number);
    if (after > this.store.readUint(R.max)) fail(SW.LIMIT_EXCEEDED);
    const counter = this.store.readUint(R.tx) + 1;
    this.store.begin();
    this.store.writeUint(R.balance, after, 8);
    this.store.writeUint(R.tx, counter, 4);
    this.store.writeUint(R.load, loadCounter as number, 4);
    this.appendLog({ counter, kind: 2, amount: amount as number, currency: currency as string, party: issuer as string, time: time as number, digest: new Uint8Array(0) });
    this.store.commit();
    this.lastWorkMs = 200;
    return encodeMoney(after, currency as string);
  }

  private readLog(c: CommandApdu): Uint8Array {
    if (c.p2 !== 0 || c.p1 > LOG_SIZE) fail(SW.INCORRECT_P1P2);
    const max = c.p1 === 0 ? LOG_SIZE : c.p1;
    return encodeCanonical(this.logEntries(max).map((e) => [e.counter, e.kind, e.amount, e.currency, e.party, e.time]));
  }

  private lastToken(c: CommandApdu): Uint8Array {
    this.p1p2(c, 0, 0);
    const e = this.logEntries().find((x) => x.kind === 1) ?? fail(SW.DATA_NOT_FOUND);
    return this.token(e);
  }
}
