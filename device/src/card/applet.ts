// The SEMPER applet client (board/card/APPLET.md) over T=1, callback style `(err, value)`.
// One operation at a time; each one powers the card up and SELECTs the applet if needed,
// so a card pulled and re-inserted just works on the next call. Errors are plain CardError
// objects carrying the link's ErrorCode (errors.ts maps the status words).

import { bytesToByteString, copyBytes, MAX_SAFE, TWO32 } from '../../../protocol/src/cbor';
import { ErrorCode } from '../../../protocol/src/messages';
import { isAtrError, parseAtr, t1Parameters, T1Parameters } from './atr';
import { CardCallback, CardError, cardError, noCard, swError } from './errors';
import { CardReader, ReadError } from './reader';
import { T1Error, T1Terminal } from './t1';

/** F0 53 45 4D 50 45 52 01: "SEMPER" v1 (unregistered, proprietary RID). */
export const SEMPER_AID = [0xf0, 0x53, 0x45, 0x4d, 0x50, 0x45, 0x52, 0x01];

export interface CardInfo {
  /** 8 bytes. */
  cardId: Uint8Array;
  /** UTF-8 byte string. */
  holder: string;
  /** First 8 bytes of SHA-256(card public key). */
  kid: Uint8Array;
  pinTries: number;
  pukTries: number;
  /** UTF-8 byte string. */
  issuer: string;
  atr: Uint8Array;
}

export interface Money {
  amount: number;
  /** ISO 4217 alphabetic code. */
  currency: string;
}

export interface Debit {
  /** Minor units, 1 … 2^53−1. */
  amount: number;
  currency: string;
  /** Seconds since 1970 (0 = unknown), recorded by the card, not trusted. */
  time: number;
  /** 32 bytes: the transaction digest (e.g. SHA-256 of the statement the user confirmed). */
  digest: Uint8Array;
  /** 1–64 bytes: a UTF-8 byte string, or the bytes. */
  payee: string | Uint8Array;
}

export interface CertificateInfo {
  /** Subject public key, 65 bytes (04 ‖ X ‖ Y). */
  key: Uint8Array;
  /** 1 card, 2 merchant, 3 issuer. */
  role: number;
  /** Subject name, UTF-8 byte string. */
  name: string;
}

/** Key references of VERIFY DIGITAL SIGNATURE. */
export const KEY_CA = 1;
export const KEY_ISSUER = 2;
export const KEY_CERTIFICATE = 3;

export interface AppletOptions {
  /** The card clock in Hz for BWT/CWT (default: the reader's slot clock). */
  clockHz?: number;
  /** T=1 retries per block (default 3). */
  maxRetries?: number;
  /** Overrides of the time-outs derived from the ATR (tests, quirky cards). */
  bwtMs?: number;
  cwtMs?: number;
  /** Floors of the T=1 time-outs (default 100 ms BWT, 25 ms CWT). */
  minBwtMs?: number;
  minCwtMs?: number;
}

interface Response {
  data: Uint8Array;
  sw: number;
}


/** The card's answer to a T=1 or reader failure. */
function linkError(e: T1Error): CardError {
  if (e.reason === 'REMOVED') return noCard();
  if (e.reason === 'BUSY') return cardError(ErrorCode.BUSY, 'T1:BUSY');
  return cardError(ErrorCode.CARD_ERROR, 'T1:' + e.reason);
}

function readerError(e: ReadError): CardError {
  if (e === 'removed') return noCard();
  if (e === 'timeout') return cardError(ErrorCode.CARD_ERROR, 'MUTE');
  return cardError(ErrorCode.CARD_ERROR, 'ATR:' + e);
}

const badArgument = (): CardError => cardError(ErrorCode.SCHEMA, 'ARGUMENT');

function isDigits(s: string, min: number, max: number): boolean {
  if (typeof s !== 'string' || s.length < min || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Writes a PIN/PUK block (digits, FF-padded to 8) at `off`. */
function putPinBlock(out: Uint8Array, off: number, digits: string): void {
  for (let i = 0; i < 8; i++) out[off + i] = i < digits.length ? digits.charCodeAt(i) : 0xff;
}

function isCurrency(c: string): boolean {
  if (typeof c !== 'string' || c.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const x = c.charCodeAt(i);
    if (x < 0x41 || x > 0x5a) return false;
  }
  return true;
}

function isAmount(v: number): boolean {
  return typeof v === 'number' && v >= 1 && v <= MAX_SAFE && Math.floor(v) === v;
}

/** 8 bytes big-endian, exact for 0 … 2^53−1 (no BigInt, no Math.pow). */
export function putAmount(out: Uint8Array, off: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  const lo = v - hi * TWO32;
  out[off] = (hi >>> 24) & 0xff;
  out[off + 1] = (hi >>> 16) & 0xff;
  out[off + 2] = (hi >>> 8) & 0xff;
  out[off + 3] = hi & 0xff;
  out[off + 4] = (lo >>> 24) & 0xff;
  out[off + 5] = (lo >>> 16) & 0xff;
  out[off + 6] = (lo >>> 8) & 0xff;
  out[off + 7] = lo & 0xff;
}

/** Reads 8 bytes big-endian; -1 above 2^53−1. */
export function getAmount(b: Uint8Array, off: number): number {
  const hi = b[off] * 16777216 + b[off + 1] * 65536 + b[off + 2] * 256 + b[off + 3];
  const lo = b[off + 4] * 16777216 + b[off + 5] * 65536 + b[off + 6] * 256 + b[off + 7];
  if (hi > 0x1fffff) return -1;
  return hi * TWO32 + lo;
}

function decodeMoney(d: Uint8Array): Money | null {
  if (d.length !== 11) return null;
  const amount = getAmount(d, 0);
  const currency = bytesToByteString(copyBytes(d, 8, 11));
  if (amount < 0 || !isCurrency(currency)) return null;
  return { amount: amount, currency: currency };
}

function byteStringBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/**
 * A command APDU: short lengths when the data fits in 255 bytes, extended otherwise (or when
 * `extLe`); `le` adds Le = maximum (00, or 00 00 extended).
 */
export function commandApdu(cla: number, ins: number, p1: number, p2: number, data: Uint8Array | null, le: boolean, extLe?: boolean): Uint8Array {
  const n = data === null ? 0 : data.length;
  const ext = n > 255 || extLe === true;
  const size = 4 + (n > 0 ? (ext ? 3 : 1) + n : 0) + (le ? (ext ? (n > 0 ? 2 : 3) : 1) : 0);
  const out = new Uint8Array(size);
  out[0] = cla;
  out[1] = ins;
  out[2] = p1;
  out[3] = p2;
  let i = 4;
  if (data !== null && n > 0) {
    if (ext) {
      out[i++] = 0;
      out[i++] = n >> 8;
      out[i++] = n & 0xff;
    } else {
      out[i++] = n;
    }
    out.set(data, i);
    i += n;
  }
  // Le bytes stay 00 (maximum): the size above reserved them
  return out;
}

export class CardApplet {
  /** The T=1 parameters of the current activation (null while the card is off). */
  params: T1Parameters | null;
  protected t1: T1Terminal | null;
  private selected: boolean;
  protected running: boolean;
  private readonly opts: AppletOptions;

  constructor(
    readonly reader: CardReader,
    opts?: AppletOptions,
  ) {
    this.params = null;
    this.t1 = null;
    this.selected = false;
    this.running = false;
    this.opts = opts === undefined ? {} : opts;
    reader.onPresence((present) => {
      if (!present) this.drop();
    });
  }

  protected drop(): void {
    this.t1 = null;
    this.selected = false;
    this.params = null;
  }

  /**
   * Runs one operation: BUSY at once (synchronously) while another runs, NO_CARD without a
   * card; otherwise activates and selects as needed, then `body`. A T=1 failure that leaves
   * the card unusable deactivates it; the next operation starts afresh.
   */
  protected run<T>(cb: CardCallback<T>, body: (done: CardCallback<T>) => void, reselect?: boolean): void {
    if (this.running) return cb(cardError(ErrorCode.BUSY, 'BUSY'));
    if (!this.reader.present()) return cb(noCard());
    this.running = true;
    const done: CardCallback<T> = (err, v) => {
      if (err && err.reason !== undefined && err.reason.indexOf('T1:') === 0 && err.reason !== 'T1:RESYNCHRONISED' && err.reason !== 'T1:BUSY') {
        this.drop();
        this.reader.deactivate('off');
      }
      if (err && err.code === ErrorCode.NO_CARD) this.drop();
      this.running = false;
      cb(err, v);
    };
    this.session(reselect === true, (err) => {
      if (err) return done(err);
      body(done);
    });
  }

  /** Power-up, ATR, T=1 parameters, IFSD, SELECT — whatever is not done yet. */
  private session(reselect: boolean, cb: (err: CardError | null) => void): void {
    if (this.t1 && this.reader.powered()) {
      if (this.selected && !reselect) return cb(null);
      return this.select(cb);
    }
    this.drop();
    this.reader.powerUp((rerr, atrBytes) => {
      if (rerr || atrBytes === null) return cb(readerError(rerr === null ? 'invalid' : rerr));
      const atr = parseAtr(atrBytes);
      const hz = this.opts.clockHz === undefined ? this.reader.slot.clk.hz : this.opts.clockHz;
      const p = isAtrError(atr) ? atr : t1Parameters(atr, hz);
      if (isAtrError(p)) {
        this.reader.deactivate('off');
        return cb(cardError(ErrorCode.CARD_ERROR, 'ATR:' + p.reason));
      }
      if (this.opts.bwtMs !== undefined) p.bwtMs = this.opts.bwtMs;
      if (this.opts.cwtMs !== undefined) p.cwtMs = this.opts.cwtMs;
      this.params = p;
      const t1 = new T1Terminal(this.reader, {
        ifsc: p.ifsc,
        edc: p.edc,
        bwtMs: p.bwtMs,
        cwtMs: p.cwtMs,
        maxRetries: this.opts.maxRetries,
        minBwtMs: this.opts.minBwtMs,
        minCwtMs: this.opts.minCwtMs,
      });
      this.t1 = t1;
      t1.negotiateIfsd((err) => {
        // not fatal unless the card is gone: it then keeps IFSD 32 (T=1 retries it after a resync)
        if (err && err.reason !== 'RESYNCHRONISED' && err.reason !== 'ABORTED') return cb(linkError(err));
        this.select(cb);
      });
    });
  }

  private select(cb: (err: CardError | null) => void): void {
    this.selected = false;
    this.command(commandApdu(0x00, 0xa4, 0x04, 0x0c, new Uint8Array(SEMPER_AID), false), (err, r) => {
      if (err) return cb(err);
      if (r!.sw !== 0x9000) return cb(swError(r!.sw));
      this.selected = true;
      cb(null);
    });
  }

  /** One APDU; the APDU buffer is zeroed once the exchange is over (it may hold a PIN). */
  private command(apdu: Uint8Array, cb: (err: CardError | null, r?: Response) => void): void {
    const t1 = this.t1;
    if (!t1) return cb(noCard());
    t1.transmit(apdu, (err, resp) => {
      apdu.fill(0);
      if (err) return cb(linkError(err));
      if (resp === null || resp.length < 2) return cb(cardError(ErrorCode.CARD_ERROR, 'APDU'));
      const n = resp.length - 2;
      cb(null, { data: copyBytes(resp, 0, n), sw: (resp[n] << 8) | resp[n + 1] });
    });
  }

  /** One APDU expecting 9000; calls back with the response data. */
  protected ok(apdu: Uint8Array, cb: CardCallback<Uint8Array>): void {
    this.command(apdu, (err, r) => {
      if (err) return cb(err);
      if (r!.sw !== 0x9000) return cb(swError(r!.sw));
      cb(null, r!.data);
    });
  }

  private getData(tag: number, cb: CardCallback<Uint8Array>): void {
    this.ok(commandApdu(0x00, 0xca, 0x01, tag, null, true), cb);
  }

  /**
   * Powers the card up if needed, SELECTs the applet (afresh: any PIN verification is gone)
   * and reads card id, holder, kid, PIN/PUK tries and issuer.
   */
  open(cb: CardCallback<CardInfo>): void {
    this.run(
      cb,
      (done) => {
        const info: CardInfo = {
          cardId: new Uint8Array(0),
          holder: '',
          kid: new Uint8Array(0),
          pinTries: 0,
          pukTries: 0,
          issuer: '',
          atr: this.reader.atr === null ? new Uint8Array(0) : new Uint8Array(this.reader.atr),
        };
        const tags = [0x01, 0x02, 0x09, 0x07, 0x0a];
        let i = 0;
        const next = (): void => {
          if (i >= tags.length) return done(null, info);
          const tag = tags[i++];
          this.getData(tag, (err, d) => {
            if (err) return done(err);
            const v = d!;
            if (tag === 0x01) info.cardId = v;
            else if (tag === 0x02) info.holder = bytesToByteString(v);
            else if (tag === 0x09) info.kid = v;
            else if (tag === 0x0a) info.issuer = bytesToByteString(v);
            else if (v.length === 2) {
              info.pinTries = v[0];
              info.pukTries = v[1];
            } else return done(cardError(ErrorCode.CARD_ERROR, 'APDU'));
            next();
          });
        };
        next();
      },
      true,
    );
  }

  /**
   * VERIFY with the PIN (4–8 digits). The PIN block is zeroed once the APDU has been sent;
   * the PIN is never logged or kept. Wrong PIN: PIN_FAILED with triesLeft (PIN_BLOCKED at 0).
   */
  verifyPin(pin: string, cb: CardCallback<boolean>): void {
    if (!isDigits(pin, 4, 8)) return cb(badArgument());
    const apdu = commandApdu(0x00, 0x20, 0x00, 0x81, new Uint8Array(8), false);
    putPinBlock(apdu, 5, pin);
    this.secret(apdu, cb);
  }

  /** CHANGE REFERENCE DATA: old and new PIN (4–8 digits each); the PIN is then not verified. */
  changePin(oldPin: string, newPin: string, cb: CardCallback<boolean>): void {
    if (!isDigits(oldPin, 4, 8) || !isDigits(newPin, 4, 8)) return cb(badArgument());
    const apdu = commandApdu(0x00, 0x24, 0x00, 0x81, new Uint8Array(16), false);
    putPinBlock(apdu, 5, oldPin);
    putPinBlock(apdu, 13, newPin);
    this.secret(apdu, cb);
  }

  /** RESET RETRY COUNTER with the PUK (8 digits) and a new PIN: the PIN counter is back to 3. */
  unblock(puk: string, newPin: string, cb: CardCallback<boolean>): void {
    if (!isDigits(puk, 8, 8) || !isDigits(newPin, 4, 8)) return cb(badArgument());
    const apdu = commandApdu(0x00, 0x2c, 0x00, 0x81, new Uint8Array(16), false);
    putPinBlock(apdu, 5, puk);
    putPinBlock(apdu, 13, newPin);
    this.secret(apdu, cb);
  }

  private secret(apdu: Uint8Array, cb: CardCallback<boolean>): void {
    this.run<boolean>(
      (err, v) => {
        apdu.fill(0); // also when the operation never started (BUSY, NO_CARD)
        cb(err, v);
      },
      (done) => this.ok(apdu, (err) => (err ? done(err) : done(null, true))),
    );
  }

  /** COMPUTE DIGITAL SIGNATURE over a SHA-256 digest (needs a fresh VERIFY): r ‖ s, 64 bytes. */
  sign(digest: Uint8Array, cb: CardCallback<Uint8Array>): void {
    if (!digest || digest.length !== 32) return cb(badArgument());
    const apdu = commandApdu(0x00, 0x2a, 0x9e, 0x9a, digest, true);
    this.run(cb, (done) =>
      this.ok(apdu, (err, sig) => {
        if (err) return done(err);
        if (sig!.length !== 64) return done(cardError(ErrorCode.CARD_ERROR, 'APDU'));
        done(null, sig);
      }),
    );
  }

  /** GENERATE KEY PAIR (replace; needs a fresh VERIFY and uses it up; voids the certificate): the new public key. */
  newKey(cb: CardCallback<Uint8Array>): void {
    this.run(cb, (done) =>
      this.ok(commandApdu(0x00, 0x47, 0x80, 0x01, null, true), (err, key) => {
        if (err) return done(err);
        if (key!.length !== 65 || key![0] !== 0x04) return done(cardError(ErrorCode.CARD_ERROR, 'APDU'));
        done(null, key);
      }),
    );
  }

  /** PUT DATA 03: the card keeps `cert` as its own certificate if it verifies (APPLET.md). */
  putCertificate(cert: Uint8Array, cb: CardCallback<boolean>): void {
    if (!cert || cert.length === 0 || cert.length > 65535) return cb(badArgument());
    const apdu = commandApdu(0x00, 0xda, 0x01, 0x03, cert, false);
    this.run(cb, (done) => this.ok(apdu, (err) => (err ? done(err) : done(null, true))));
  }

  /** VERIFY CERTIFICATE against the card's CA root: the subject key, role and name (key ref 03 afterwards). */
  verifyCertificate(cert: Uint8Array, cb: CardCallback<CertificateInfo>): void {
    if (!cert || cert.length === 0 || cert.length > 65535) return cb(badArgument());
    const apdu = commandApdu(0x00, 0x2a, 0x00, 0xbe, cert, true);
    this.run(cb, (done) =>
      this.ok(apdu, (err, d) => {
        if (err) return done(err);
        const v = d!;
        if (v.length < 66 || v[0] !== 0x04) return done(cardError(ErrorCode.CARD_ERROR, 'APDU'));
        done(null, { key: copyBytes(v, 0, 65), role: v[65], name: bytesToByteString(copyBytes(v, 66, v.length)) });
      }),
    );
  }

  /** VERIFY DIGITAL SIGNATURE with key ref 01 CA, 02 issuer, 03 last certificate: true valid, false invalid (6300). */
  verifySignature(keyRef: number, digest: Uint8Array, sig: Uint8Array, cb: CardCallback<boolean>): void {
    if (!digest || digest.length !== 32 || !sig || sig.length !== 64) return cb(badArgument());
    const data = new Uint8Array(97);
    data[0] = keyRef & 0xff;
    data.set(digest, 1);
    data.set(sig, 33);
    const apdu = commandApdu(0x00, 0x2a, 0x00, 0xa8, data, false);
    this.run(cb, (done) =>
      this.command(apdu, (err, r) => {
        if (err) return done(err);
        if (r!.sw === 0x9000) return done(null, true);
        if (r!.sw === 0x6300) return done(null, false);
        done(swError(r!.sw));
      }),
    );
  }

  /** PURSE BALANCE. */
  balance(cb: CardCallback<Money>): void {
    this.run(cb, (done) => this.money(commandApdu(0x80, 0x50, 0x00, 0x00, null, true), done));
  }

  private money(apdu: Uint8Array, done: CardCallback<Money>): void {
    this.ok(apdu, (err, d) => {
      if (err) return done(err);
      const m = decodeMoney(d!);
      if (!m) return done(cardError(ErrorCode.CARD_ERROR, 'APDU'));
      done(null, m);
    });
  }

  /** PURSE DEBIT (needs a fresh VERIFY): the payment token (COSE_Sign1 bytes). */
  debit(d: Debit, cb: CardCallback<Uint8Array>): void {
    if (!d || !isAmount(d.amount)) return cb(badArgument());
    if (!isCurrency(d.currency)) return cb(badArgument());
    if (typeof d.time !== 'number' || d.time < 0 || d.time >= TWO32 || Math.floor(d.time) !== d.time) return cb(badArgument());
    if (!d.digest || d.digest.length !== 32) return cb(badArgument());
    const payee = typeof d.payee === 'string' ? byteStringBytes(d.payee) : d.payee;
    if (!payee || payee.length < 1 || payee.length > 64) return cb(badArgument());
    const data = new Uint8Array(47 + payee.length);
    putAmount(data, 0, d.amount);
    for (let i = 0; i < 3; i++) data[8 + i] = d.currency.charCodeAt(i);
    const t = d.time;
    data[11] = (t >>> 24) & 0xff;
    data[12] = (t >>> 16) & 0xff;
    data[13] = (t >>> 8) & 0xff;
    data[14] = t & 0xff;
    data.set(d.digest, 15);
    data.set(payee, 47);
    const apdu = commandApdu(0x80, 0x52, 0x00, 0x00, data, true);
    this.run(cb, (done) => this.ok(apdu, done));
  }

  /** PURSE LOAD with an issuer-signed load instruction: the new balance. */
  load(instruction: Uint8Array, cb: CardCallback<Money>): void {
    if (!instruction || instruction.length === 0 || instruction.length > 65535) return cb(badArgument());
    const apdu = commandApdu(0x80, 0x54, 0x00, 0x00, instruction, true);
    this.run(cb, (done) => this.money(apdu, done));
  }

  /** READ LOG: the newest `n` (1–20; 0 = 20) entries as the card's canonical CBOR array, raw. */
  readLog(n: number, cb: CardCallback<Uint8Array>): void {
    if (typeof n !== 'number' || n < 0 || n > 20 || Math.floor(n) !== n) return cb(badArgument());
    this.run(cb, (done) => this.ok(commandApdu(0x80, 0x56, n, 0x00, null, true, true), done));
  }
}

/**
 * The applet client with what the firmware never calls: a raw command APDU in the session,
 * LAST TOKEN, power-off, and the state and T=1 terminal of the activation for diagnostics —
 * for tests and tools. Apart from CardApplet because esbuild keeps every method of a class the
 * firmware uses, and each is flash and JsVars on the board.
 */
export class FullCardApplet extends CardApplet {
  /** Whether an operation is running. */
  busy(): boolean {
    return this.running;
  }

  /** The T=1 terminal of the current activation (diagnostics, tests). */
  terminal(): T1Terminal | null {
    return this.t1;
  }

  /** Powers the card off (idle only; the next operation powers it up again). */
  close(): void {
    if (this.running) return;
    this.drop();
    this.reader.deactivate('off');
  }

  /** Sends a raw command APDU in the session (selected); calls back with data ‖ SW1 SW2 as the card answered. */
  transmit(apdu: Uint8Array, cb: CardCallback<Uint8Array>): void {
    const copy = new Uint8Array(apdu);
    this.run(cb, (done) => {
      const t1 = this.t1!;
      t1.transmit(copy, (err, resp) => {
        copy.fill(0);
        if (err) return done(linkError(err));
        done(null, resp!);
      });
    });
  }

  /** LAST TOKEN: a fresh token for the most recent debit (no PIN needed: it moves no value). */
  lastToken(cb: CardCallback<Uint8Array>): void {
    this.run(cb, (done) => this.ok(commandApdu(0x80, 0x58, 0x00, 0x00, null, true), done));
  }
}
