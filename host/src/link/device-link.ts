// The host end of the link: the protocol's Link over a Line, the host codec, and
// request/response correlation with timeouts, cancellation and progress. One operation
// (SPEC §5.0.5: CONFIRM … CHANGE_PIN) travels at a time and the others wait their turn
// (or fail at once with HOST_BUSY when the caller asks); HELLO, PING and CANCEL, which
// the device answers at any time, go out beside it.

import { EventEmitter } from 'node:events';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { Link, LinkResetReason } from '../../../protocol/src/link';
import { Frame } from '../../../protocol/src/frame';
import { errorCodeName, ErrorCode, Message, MessageError, MsgType, msgTypeName, PROTOCOL_VERSION } from '../../../protocol/src/messages';
import { deviceErrorText } from './error-texts';
import { decodeHostMessage, encodeHostMessage } from './codec';
import { Line } from '../../../shared/src/line';

/**
 * Why a request failed on the host side without a device ERROR (SPEC §6.2):
 * - LINK_RESET: the link was reset (device restarted, or stopped acknowledging) while it was in flight;
 * - LINK_LOST: the line itself went away (unplugged, socket or process closed) while it was in flight;
 * - DEVICE_TIMEOUT: no answer in time and no STATUS saying the device waits for the user;
 * - ABORTED: the caller's AbortSignal fired (a CANCEL was sent if the request was out);
 * - CLOSED / NOT_CONNECTED: the link was closed / is being re-established;
 * - HOST_BUSY: another operation runs and the caller asked not to queue (`ifBusy: 'fail'`);
 * - BAD_RESPONSE: a device message failed the host's checks.
 */
export type HostLinkErrorCode = 'LINK_RESET' | 'LINK_LOST' | 'DEVICE_TIMEOUT' | 'ABORTED' | 'CLOSED' | 'NOT_CONNECTED' | 'HOST_BUSY' | 'BAD_RESPONSE';

/**
 * A request that did not succeed. `code` is the device's wire error name (e.g.
 * 'UNSUPPORTED', 'USER_REFUSED', 'USER_TIMEOUT') or a host-side condition
 * (HostLinkErrorCode). Match on `code`, never on `message`.
 */
export class DeviceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly wireCode?: number,
    readonly path?: string,
    /** PIN attempts left (PIN_FAILED, PIN_BLOCKED). */
    readonly triesLeft?: number,
  ) {
    super(message);
    this.name = 'DeviceError';
  }
}

export interface RequestOptions {
  /**
   * How long the device may stay silent, ms (default: defaultTimeoutMs of the request).
   * While the device reports that it waits for the user (STATUS AWAITING_USER /
   * AWAITING_PIN for this request) the wait is extended to the device's own user timeout
   * plus 10 s, so that a slow user ends in the device's USER_TIMEOUT, never in
   * DEVICE_TIMEOUT. A caller's own deadline is an AbortSignal (AbortSignal.timeout(ms)).
   */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** STATUS events the device sends for this request (progress: step, steps, label, state). */
  onProgress?: (s: StatusEvent) => void;
  /** For operations while another operation runs: wait for it (default) or fail with HOST_BUSY. */
  ifBusy?: 'queue' | 'fail';
}

export interface DeviceLinkOptions {
  /** Line rate, for the link's retransmission timer (default 115200). */
  baud?: number;
  rto?: number;
  onTrace?: (dir: 'tx' | 'rx', f: Frame, wire: Uint8Array | null) => void;
}

export interface StatusEvent {
  id: number;
  state: number;
  card: boolean;
  step?: number;
  steps?: number;
  label?: string;
}

interface Pending {
  id: number;
  type: number;
  body: Record<string, unknown>;
  resolve: (body: Record<string, unknown>) => void;
  reject: (e: DeviceError) => void;
  timer?: NodeJS.Timeout;
  /** When the device-silence timer expires (performance.now() ms). */
  deadline: number;
  sent: boolean;
  /** The last STATUS for this request said the device waits for the user. */
  awaitingUser: boolean;
  opts: RequestOptions;
  onAbort?: () => void;
}

/** Request types the device runs as operations, one at a time (SPEC §5.0.5). */
export function isOperation(type: number): boolean {
  return type !== MsgType.HELLO && type !== MsgType.PING && type !== MsgType.CANCEL;
}

const AWAITING_USER = 2;
const AWAITING_PIN = 3;

/** True when a STATUS state means "the device waits for the person at it". */
export function isAwaitingUser(state: number): boolean {
  return state === AWAITING_USER || state === AWAITING_PIN;
}

/**
 * Events: 'status' (StatusEvent), 'reset' (reason), 'synced', 'unsolicited-error'
 * (DeviceError), 'protocol-error' (a message from the device that failed checks).
 */
export class DeviceLink extends EventEmitter {
  readonly link: Link;
  private nextId = 1;
  /** Operations waiting for their turn. */
  private queue: Pending[] = [];
  /** The operation sent and not yet answered. */
  private current: Pending | null = null;
  private closed = false;
  private syncWaiters: ((e?: DeviceError) => void)[] = [];
  private synced = false;
  /** HELLO, PING and CANCEL travel beside the current operation, so they are tracked apart. */
  private sideInFlight = new Map<number, Pending>();

  constructor(
    private readonly line: Line,
    opts: DeviceLinkOptions = {},
  ) {
    super();
    this.link = new Link({
      write: (b) => this.line.write(b),
      crc32: (d) => zlibCrc32(d),
      timers: { now: () => performance.now(), set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as NodeJS.Timeout) },
      onMessage: (b, event) => this.onMessage(b, event),
      onReset: (reason, dropped) => this.onReset(reason, dropped),
      onSynced: () => this.onSynced(),
      onTrace: opts.onTrace,
      baud: opts.baud,
      rto: opts.rto,
    });
    line.onData((b) => this.link.receive(b));
  }

  /** Resynchronises the link and negotiates the protocol version (HELLO). */
  async connect(opts: RequestOptions = {}): Promise<Record<string, unknown>> {
    // a device that is still booting answers our SYNC and then sends its own boot SYNC, which
    // resets the link under the HELLO: handshake again (a real board does this when it is
    // plugged in while the host connects)
    for (let attempt = 1; ; attempt++) {
      this.synced = false;
      const ready = new Promise<void>((resolve, reject) => this.syncWaiters.push((e) => (e ? reject(e) : resolve())));
      this.link.sync();
      this.failInFlight('the host resynchronised the link');
      await withTimeout(ready, opts.timeoutMs ?? 5000, 'device did not answer the link handshake (SYNC): is it connected and running the firmware?');
      try {
        return await this.hello(opts);
      } catch (e) {
        if (attempt < 3 && e instanceof DeviceError && e.code === 'LINK_RESET') continue;
        throw e;
      }
    }
  }

  /** HELLO with our version range (SPEC §5.1): after every handshake, the firmware may have changed. */
  hello(opts: RequestOptions = {}, agent = 'semper-host'): Promise<Record<string, unknown>> {
    return this.request(MsgType.HELLO, { minVersion: PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, agent }, opts);
  }

  /** Sends one request and resolves with the response body, or rejects with DeviceError. */
  request(type: number, body: Record<string, unknown>, opts: RequestOptions = {}): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new DeviceError('CLOSED', 'the link is closed'));
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new DeviceError('ABORTED', 'aborted before it was sent'));
      const running = this.current ?? this.queue[0];
      if (isOperation(type) && running && opts.ifBusy === 'fail') {
        return reject(new DeviceError('HOST_BUSY', `${msgTypeName(running.type)} (request ${running.id}) is still running on the device: wait for it, or cancel it`));
      }
      const p: Pending = { id: this.allocId(), type, body, resolve, reject, deadline: 0, sent: false, awaitingUser: false, opts };
      if (opts.signal) {
        p.onAbort = () => this.abort(p);
        opts.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      if (!isOperation(type)) {
        this.sideInFlight.set(p.id, p);
        this.transmit(p);
      } else {
        this.queue.push(p);
        this.pump();
      }
    });
  }

  /** The operation running on the device (sent, unanswered), if any, and how many wait behind it. */
  get busy(): { type: number; id: number; awaitingUser: boolean; queued: number } | null {
    const p = this.current;
    return p ? { type: p.type, id: p.id, awaitingUser: p.awaitingUser, queued: this.queue.length } : null;
  }

  /** Closes the link and the line; whatever waits fails with `reason` (default CLOSED). */
  close(reason: DeviceError = new DeviceError('CLOSED', 'the link was closed')): void {
    this.closed = true;
    this.link.close();
    this.line.close();
    const all = [...(this.current ? [this.current] : []), ...this.queue, ...this.sideInFlight.values()];
    this.current = null;
    this.queue = [];
    for (const p of all) this.settle(p, reason);
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const f of waiters) f(reason);
  }

  // ---------------------------------------------------------------- internals

  private allocId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return id;
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    this.current = this.queue.shift()!;
    this.transmit(this.current);
  }

  private transmit(p: Pending): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeHostMessage(p.type, p.id, p.body, 'request');
    } catch (e) {
      const me = e as MessageError;
      this.settle(p, new DeviceError(errorCodeName(me.code), `request not sent: ${me.message}${me.path ? ` at ${me.path}` : ''}`, me.code, me.path));
      return;
    }
    if (!this.link.send(bytes)) {
      this.settle(p, new DeviceError('LINK_RESET', 'link queue full'));
      return;
    }
    p.sent = true;
    this.armTimer(p, p.opts.timeoutMs ?? defaultTimeoutMs(p.type, p.body));
  }

  /** (Re)starts the device-silence timer of `p` to expire `ms` from now. */
  private armTimer(p: Pending, ms: number): void {
    if (p.timer) clearTimeout(p.timer);
    p.deadline = performance.now() + ms;
    p.timer = setTimeout(() => {
      this.settle(p, new DeviceError('DEVICE_TIMEOUT', `no answer to ${msgTypeName(p.type)} within ${Math.round(ms)} ms: the device is not answering`));
    }, ms);
  }

  private abort(p: Pending): void {
    if (p.sent && isOperation(p.type) && this.current === p) {
      // tell the device, then give up locally at once
      this.request(MsgType.CANCEL, { target: p.id }, { timeoutMs: 2000 }).catch(() => {});
    }
    this.settle(p, new DeviceError('ABORTED', `${msgTypeName(p.type)} aborted by the caller`));
  }

  private settle(p: Pending, result: DeviceError | Record<string, unknown>): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    if (p.onAbort && p.opts.signal) p.opts.signal.removeEventListener('abort', p.onAbort);
    this.sideInFlight.delete(p.id);
    const wasCurrent = this.current === p;
    if (wasCurrent) this.current = null;
    else {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
    }
    if (result instanceof DeviceError) p.reject(result);
    else p.resolve(result);
    if (wasCurrent) this.pump();
  }

  private findPending(id: number): Pending | null {
    if (this.current && this.current.id === id) return this.current;
    return null;
  }

  private onMessage(bytes: Uint8Array, event: boolean): void {
    let m: Message;
    try {
      m = decodeHostMessage(bytes, 'response');
    } catch (e) {
      const me = e as MessageError;
      this.emit('protocol-error', new DeviceError('BAD_RESPONSE', `device sent a message that fails checks: ${me.message}`, me.code, me.path));
      return;
    }
    if (m.type === MsgType.STATUS) {
      const s = { id: m.id, ...m.body } as StatusEvent;
      const p = m.id === 0 ? null : this.findPending(m.id);
      if (p) this.progress(p, s);
      this.emit('status', s);
      return;
    }
    if (event) {
      // only advisory events may skip the sequence; an answer must come numbered
      this.emit('protocol-error', new DeviceError('BAD_RESPONSE', `${msgTypeName(m.type)} arrived in an EVENT frame (SPEC §3.10)`));
      return;
    }
    const p = this.findPending(m.id) ?? this.sideInFlight.get(m.id) ?? null;
    if (m.type === MsgType.ERROR) {
      const code = m.body.code as number;
      const path = m.body.path as string | undefined;
      const tries = m.body.triesLeft as number | undefined;
      // the device sends the code, not words (SPEC §5.14): the host words it
      const err = new DeviceError(errorCodeName(code), deviceErrorText(code, path, tries, m.body.message as string | undefined), code, path, tries);
      if (p) this.settle(p, err);
      else this.emit('unsolicited-error', err);
      return;
    }
    if (!p || p.type !== m.type) {
      this.emit('protocol-error', new DeviceError('BAD_RESPONSE', `unexpected ${msgTypeName(m.type)} response with id ${m.id}`));
      return;
    }
    this.settle(p, m.body);
  }

  private onReset(reason: LinkResetReason, dropped: number): void {
    this.emit('reset', reason, dropped);
    this.failInFlight(reason === 'peer' ? 'the device restarted' : 'the device stopped answering');
  }

  /** A STATUS for the request `p`: tell its caller, and keep waiting while the user decides. */
  private progress(p: Pending, s: StatusEvent): void {
    p.awaitingUser = isAwaitingUser(s.state);
    if (p.awaitingUser && p.timer) {
      // the device is alive and waits for its user: give the user the device's own time
      const user = (typeof p.body.timeout === 'number' ? p.body.timeout : DEVICE_USER_TIMEOUT_S) * 1000 + USER_MARGIN_MS;
      if (p.deadline - performance.now() < user) this.armTimer(p, user);
    }
    if (p.opts.onProgress) {
      try {
        p.opts.onProgress(s);
      } catch {
        // a caller's progress handler must not break the link
      }
    }
  }

  /** Whatever was sent is void after a reset: fail it so callers can retry deliberately. */
  private failInFlight(why: string): void {
    const inFlight = [...this.sideInFlight.values()];
    if (this.current && this.current.sent) inFlight.unshift(this.current);
    for (const p of inFlight) this.settle(p, new DeviceError('LINK_RESET', `the link was reset (${why}) while ${msgTypeName(p.type)} was in flight`));
  }

  private onSynced(): void {
    this.synced = true;
    const w = this.syncWaiters;
    this.syncWaiters = [];
    for (const f of w) f();
    this.emit('synced');
  }

  get isSynced(): boolean {
    return this.synced;
  }
}

/** The device's user timeout when a request does not set one (SPEC §5.0.7), s. */
const DEVICE_USER_TIMEOUT_S = 120;
/** How much longer than the device the host waits for a user operation (SPEC §7.2), ms. */
const USER_MARGIN_MS = 10000;

/** Requests that wait for the person at the device, with the device's default prompt time (s). */
const USER_OPERATIONS: Record<number, number> = {
  [MsgType.CONFIRM]: DEVICE_USER_TIMEOUT_S,
  [MsgType.SIGN]: DEVICE_USER_TIMEOUT_S,
  [MsgType.PURSE_DEBIT]: DEVICE_USER_TIMEOUT_S,
  [MsgType.PURSE_LOAD]: DEVICE_USER_TIMEOUT_S,
  [MsgType.CHANGE_PIN]: DEVICE_USER_TIMEOUT_S,
};

/** Card operations without a user: the device may take seconds (SPEC §7.2). */
const CARD_OPERATIONS = [MsgType.VERIFY_OFFER, MsgType.PURSE_BALANCE, MsgType.READ_LOG, MsgType.STORE_CERT] as number[];

/**
 * How long the host waits for an answer when the caller does not say: 5 s for HELLO,
 * PING and CANCEL, 30 s for the card operations without a user (VERIFY_OFFER,
 * PURSE_BALANCE, READ_LOG, STORE_CERT; SPEC §7.2); for a user operation its own timeout (the request's
 * `timeout` field or the device default of 120 s) plus 10 s, so the device's
 * USER_TIMEOUT arrives before the host gives up (SPEC §5.0.7).
 */
export function defaultTimeoutMs(type: number, body: Record<string, unknown>): number {
  const user = USER_OPERATIONS[type];
  if (user === undefined) return CARD_OPERATIONS.includes(type) ? 30000 : 5000;
  const t = typeof body.timeout === 'number' ? body.timeout : user;
  return t * 1000 + USER_MARGIN_MS;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new DeviceError('DEVICE_TIMEOUT', message)), ms);
    }),
  ]);
}

export { ErrorCode };
