// The typed client of the device link: one method per request type of the catalogue
// (SPEC §5), typed requests and responses, errors as DeviceError (wire code name, path,
// triesLeft), progress from STATUS, cancellation by AbortSignal. It runs over a
// DeviceConnection (reconnecting) or a bare DeviceLink.

import { EventEmitter } from 'node:events';
import { DeviceState, MsgType, msgTypeName, STATEMENT_SCHEMA } from '../../../protocol/src/messages';
import { encodeBody, LogEntry, Money, SchemaError, Statement } from '../../../protocol/src/schema';
import { encodeCanonical, fromModel, utf8Length } from '../../../shared/src/cbor';
import { DeviceError, isAwaitingUser, RequestOptions, StatusEvent } from '../link/device-link';

export type { LogEntry, Money, Statement };

/** What the client needs from below: DeviceConnection and DeviceLink both fit. */
export interface Requester {
  request(type: number, body: Record<string, unknown>, opts?: RequestOptions): Promise<Record<string, unknown>>;
}

export interface HelloInfo {
  version: number;
  firmware: string;
  board: string;
  serial: Uint8Array;
  capabilities: number[];
  card: boolean;
  maxMessage: number;
}

export interface SignResult {
  protected: Uint8Array;
  signature: Uint8Array;
  kid: Uint8Array;
  /** The statement bytes the device showed and signed (the COSE payload). */
  statement: Uint8Array;
  /** With `newKey`: the key pair the card made for this signature (SEC1 uncompressed, 65 bytes). */
  key?: Uint8Array;
  /** With `newKey`: the card's id, for the certificate request. */
  card?: Uint8Array;
}

/** Options of SIGN. */
export interface SignOptions extends UserCallOptions {
  /**
   * Registration (SPEC §5.6): the card makes a new key pair first — the device says so before
   * the statement — and signs with it. The old key's certificate is void from then on.
   */
  newKey?: boolean;
}

export interface VerifyOfferResult {
  merchant: string;
  offerDigest: Uint8Array;
  validUntil?: number;
}

export type DeviceStateName = keyof typeof DeviceState;

/** One progress report for a request, from the device's STATUS. */
export interface Progress {
  requestId: number;
  state: DeviceStateName;
  card: boolean;
  step?: number;
  steps?: number;
  label?: string;
  /** The device waits for the person at it (AWAITING_USER / AWAITING_PIN): not a hang. */
  waitingForUser: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** How long the device may stay silent, ms (see RequestOptions.timeoutMs). */
  timeoutMs?: number;
  onProgress?: (p: Progress) => void;
  /** While another operation runs: wait (default) or fail with HOST_BUSY. */
  ifBusy?: 'queue' | 'fail';
}

/** Options of the operations that wait for the user. */
export interface UserCallOptions extends CallOptions {
  /** Seconds the device waits for the user, 10…600 (device default 120). */
  timeout?: number;
}

const STATE_NAMES = Object.keys(DeviceState) as DeviceStateName[];

/** A STATUS event as a Progress report. */
export function toProgress(s: StatusEvent): Progress {
  return {
    requestId: s.id,
    state: STATE_NAMES.find((n) => DeviceState[n] === s.state) ?? 'BUSY',
    card: s.card,
    step: s.step,
    steps: s.steps,
    label: s.label,
    waitingForUser: isAwaitingUser(s.state),
  };
}

/** Canonical CBOR of a statement, checked against its schema (SCHEMA with `path` if not). */
export function encodeStatement(s: Statement): Uint8Array {
  try {
    return encodeCanonical(fromModel(encodeBody(s as unknown as Record<string, unknown>, STATEMENT_SCHEMA, 'statement', utf8Length)));
  } catch (e) {
    if (e instanceof SchemaError) throw new DeviceError('SCHEMA', `statement not sent: ${e.message}`, 5, e.path);
    throw e;
  }
}

const statementBytes = (s: Statement | Uint8Array): Uint8Array => (s instanceof Uint8Array ? s : encodeStatement(s));

/**
 * Events: `progress` (Progress, for every request), `waiting-for-user` (Progress, when a
 * request starts waiting for the person at the device).
 */
export class DeviceClient extends EventEmitter {
  /** Capabilities from the last HELLO; requests outside them fail locally with UNSUPPORTED (SPEC §1.3). */
  private capabilities: number[] | null = null;
  private firmware = '';

  constructor(
    private readonly device: Requester,
    opts: { hello?: Record<string, unknown> | null } = {},
  ) {
    super();
    if (opts.hello) this.learn(opts.hello);
  }

  /** Remembers what a HELLO said (DeviceConnection's `hello` event feeds this). */
  learn(hello: Record<string, unknown>): void {
    this.capabilities = hello.capabilities as number[];
    this.firmware = hello.firmware as string;
  }

  async hello(opts: CallOptions = {}, agent = 'semper-host'): Promise<HelloInfo> {
    const h = await this.call(MsgType.HELLO, { minVersion: 1, maxVersion: 1, agent }, opts);
    this.learn(h);
    return h as unknown as HelloInfo;
  }

  /** Echo; resolves with the data and the round-trip time. */
  async ping(data: Uint8Array = new Uint8Array(0), opts: CallOptions = {}): Promise<{ data: Uint8Array; rttMs: number }> {
    const t0 = performance.now();
    const r = await this.call(MsgType.PING, { data }, opts);
    return { data: r.data as Uint8Array, rttMs: performance.now() - t0 };
  }

  /** The user approves a statement on the device; resolves when they pressed OK. */
  async confirm(statement: Statement | Uint8Array, opts: UserCallOptions = {}): Promise<void> {
    await this.call(MsgType.CONFIRM, withTimeout({ statement: statementBytes(statement) }, opts), opts);
  }

  /** The device shows the statement, the user confirms with OK and PIN, the card signs (ES256). */
  async sign(statement: Statement | Uint8Array, opts: SignOptions = {}): Promise<SignResult> {
    const bytes = statementBytes(statement);
    const r = await this.call(MsgType.SIGN, withTimeout(opts.newKey ? { statement: bytes, newKey: true } : { statement: bytes }, opts), opts);
    const out: SignResult = { protected: r.protected as Uint8Array, signature: r.signature as Uint8Array, kid: r.kid as Uint8Array, statement: bytes };
    if (opts.newKey) {
      if (!(r.key instanceof Uint8Array) || !(r.card instanceof Uint8Array)) throw new DeviceError('MALFORMED', 'the device made a new key but did not say which (no key or card id in its answer)', 1);
      out.key = r.key;
      out.card = r.card;
    }
    return out;
  }

  /**
   * STORE_CERT: the card keeps `certificate` as its own — the card checks that the card's CA
   * root signed it, for its current key, naming no other card (VERIFY_FAILED / CARD_ERROR if not).
   */
  async storeCertificate(certificate: Uint8Array, opts: CallOptions = {}): Promise<void> {
    await this.call(MsgType.STORE_CERT, { certificate }, opts);
  }

  async verifyOffer(certificate: Uint8Array, offer: Uint8Array, opts: CallOptions = {}): Promise<VerifyOfferResult> {
    return (await this.call(MsgType.VERIFY_OFFER, { certificate, offer }, opts)) as unknown as VerifyOfferResult;
  }

  async purseBalance(opts: CallOptions = {}): Promise<Money> {
    return (await this.call(MsgType.PURSE_BALANCE, {}, opts)).balance as Money;
  }

  /**
   * Pays from the purse; resolves with the card-signed token. On LINK_RESET or LINK_LOST
   * the outcome is unknown: read the log before paying again (SPEC §3.8).
   */
  async purseDebit(statement: Statement | Uint8Array, opts: UserCallOptions = {}): Promise<{ token: Uint8Array }> {
    const r = await this.call(MsgType.PURSE_DEBIT, withTimeout({ statement: statementBytes(statement) }, opts), opts);
    return { token: r.token as Uint8Array };
  }

  async purseLoad(instruction: Uint8Array, opts: UserCallOptions = {}): Promise<Money> {
    return (await this.call(MsgType.PURSE_LOAD, withTimeout({ instruction }, opts), opts)).balance as Money;
  }

  /** The purse log, newest first (at most `max`, 1…20). */
  async readLog(max?: number, opts: CallOptions = {}): Promise<LogEntry[]> {
    return (await this.call(MsgType.READ_LOG, max === undefined ? {} : { max }, opts)).entries as LogEntry[];
  }

  async changePin(opts: UserCallOptions = {}): Promise<void> {
    await this.call(MsgType.CHANGE_PIN, withTimeout({}, opts), opts);
  }

  /** Asks the device to abort request `target`; true if it was running and is now aborted. */
  async cancel(target: number, opts: CallOptions = {}): Promise<boolean> {
    return (await this.call(MsgType.CANCEL, { target }, opts)).cancelled as boolean;
  }

  private call(type: number, body: Record<string, unknown>, opts: CallOptions): Promise<Record<string, unknown>> {
    if (this.capabilities && type !== MsgType.HELLO && !this.capabilities.includes(type)) {
      const have = this.capabilities.map(msgTypeName).join(', ');
      return Promise.reject(new DeviceError('UNSUPPORTED', `firmware ${this.firmware} does not implement ${msgTypeName(type)} (it offers ${have}): update the device's firmware`, 6));
    }
    let waiting = false;
    return this.device.request(type, body, {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      ifBusy: opts.ifBusy,
      onProgress: (s) => {
        const p = toProgress(s);
        this.emit('progress', p);
        if (p.waitingForUser && !waiting) this.emit('waiting-for-user', p);
        waiting = p.waitingForUser;
        opts.onProgress?.(p);
      },
    });
  }
}

function withTimeout(body: Record<string, unknown>, opts: UserCallOptions): Record<string, unknown> {
  return opts.timeout === undefined ? body : { ...body, timeout: opts.timeout };
}
