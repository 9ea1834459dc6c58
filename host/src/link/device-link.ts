// The host end of the link: the protocol's Link over a Line, the host codec, and
// request/response correlation with timeouts and cancellation. One request travels at
// a time (the device runs one operation at a time); others wait their turn, except
// CANCEL, which goes out at once.

import { EventEmitter } from 'node:events';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { Link, LinkResetReason } from '../../../protocol/src/link';
import { Frame } from '../../../protocol/src/frame';
import { errorCodeName, ErrorCode, Message, MessageError, MsgType, msgTypeName, PROTOCOL_VERSION } from '../../../protocol/src/messages';
import { decodeHostMessage, encodeHostMessage } from './codec';
import { Line } from '../../../shared/src/line';

/** Why a request failed on the host side without a device ERROR. */
export type HostLinkErrorCode = 'LINK_RESET' | 'TIMEOUT' | 'ABORTED' | 'CLOSED' | 'BAD_RESPONSE';

/**
 * A request that did not succeed. `code` is the device's wire error name (e.g.
 * 'UNSUPPORTED', 'USER_REFUSED') or a host-side condition (HostLinkErrorCode).
 */
export class DeviceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly wireCode?: number,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'DeviceError';
  }
}

export interface RequestOptions {
  /** Host-side limit for the answer, ms (default: defaultTimeoutMs of the request). */
  timeoutMs?: number;
  signal?: AbortSignal;
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
  sent: boolean;
  opts: RequestOptions;
  onAbort?: () => void;
}

/**
 * Events: 'status' (StatusEvent), 'reset' (reason), 'synced', 'unsolicited-error'
 * (DeviceError), 'protocol-error' (a message from the device that failed checks).
 */
export class DeviceLink extends EventEmitter {
  readonly link: Link;
  private nextId = 1;
  private queue: Pending[] = [];
  private current: Pending | null = null;
  private closed = false;
  private syncWaiters: (() => void)[] = [];
  private synced = false;
  /** CANCELs travel beside the current request, so they are tracked apart. */
  private cancelsInFlight = new Map<number, Pending>();

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
    this.synced = false;
    const ready = new Promise<void>((resolve) => this.syncWaiters.push(resolve));
    this.link.sync();
    this.failInFlight('the host resynchronised the link');
    await withTimeout(ready, opts.timeoutMs ?? 5000, 'device did not answer the link handshake (SYNC): is it connected and running the firmware?');
    return this.request(MsgType.HELLO, { minVersion: PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, agent: 'semper-host' }, opts);
  }

  /** Sends one request and resolves with the response body, or rejects with DeviceError. */
  request(type: number, body: Record<string, unknown>, opts: RequestOptions = {}): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new DeviceError('CLOSED', 'the link is closed'));
    return new Promise((resolve, reject) => {
      const p: Pending = { id: this.allocId(), type, body, resolve, reject, sent: false, opts };
      if (opts.signal) {
        if (opts.signal.aborted) return reject(new DeviceError('ABORTED', 'aborted before it was sent'));
        p.onAbort = () => this.abort(p);
        opts.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      if (type === MsgType.CANCEL) {
        this.cancelsInFlight.set(p.id, p);
        this.transmit(p);
      } else {
        this.queue.push(p);
        this.pump();
      }
    });
  }

  close(): void {
    this.closed = true;
    this.link.close();
    this.line.close();
    const all = [...(this.current ? [this.current] : []), ...this.queue, ...this.cancelsInFlight.values()];
    this.current = null;
    this.queue = [];
    for (const p of all) this.settle(p, new DeviceError('CLOSED', 'the link was closed'));
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
    const ms = p.opts.timeoutMs ?? defaultTimeoutMs(p.type, p.body);
    p.timer = setTimeout(() => {
      this.settle(p, new DeviceError('TIMEOUT', `no answer to ${msgTypeName(p.type)} within ${ms} ms: the device is not answering`));
    }, ms);
  }

  private abort(p: Pending): void {
    if (p.sent && p.type !== MsgType.CANCEL && this.current === p) {
      // tell the device, then give up locally at once
      this.request(MsgType.CANCEL, { target: p.id }, { timeoutMs: 2000 }).catch(() => {});
    }
    this.settle(p, new DeviceError('ABORTED', `${msgTypeName(p.type)} aborted by the caller`));
  }

  private settle(p: Pending, result: DeviceError | Record<string, unknown>): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    if (p.onAbort && p.opts.signal) p.opts.signal.removeEventListener('abort', p.onAbort);
    this.cancelsInFlight.delete(p.id);
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
      this.emit('status', { id: m.id, ...m.body } as StatusEvent);
      return;
    }
    if (event) {
      // only advisory events may skip the sequence; an answer must come numbered
      this.emit('protocol-error', new DeviceError('BAD_RESPONSE', `${msgTypeName(m.type)} arrived in an EVENT frame (SPEC §3.10)`));
      return;
    }
    const p = this.findPending(m.id) ?? this.cancelsInFlight.get(m.id) ?? null;
    if (m.type === MsgType.ERROR) {
      const code = m.body.code as number;
      const err = new DeviceError(errorCodeName(code), (m.body.message as string) || errorCodeName(code), code, m.body.path as string | undefined);
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

  /** Whatever was sent is void after a reset: fail it so callers can retry deliberately. */
  private failInFlight(why: string): void {
    const inFlight = [...this.cancelsInFlight.values()];
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

/** Requests that wait for the person at the device, with the device's default prompt time (s). */
const USER_OPERATIONS: Record<number, number> = {
  [MsgType.CONFIRM]: 120,
  [MsgType.SIGN]: 120,
  [MsgType.PURSE_DEBIT]: 120,
  [MsgType.PURSE_LOAD]: 120,
  [MsgType.CHANGE_PIN]: 120,
};

/**
 * How long the host waits for an answer when the caller does not say: 5 s for what the
 * device answers by itself; for a user operation its own timeout (the request's
 * `timeout` field or the device default of 120 s) plus 10 s, so the device's
 * USER_TIMEOUT arrives before the host gives up (SPEC §5.0.7).
 */
export function defaultTimeoutMs(type: number, body: Record<string, unknown>): number {
  const user = USER_OPERATIONS[type];
  if (user === undefined) return 5000;
  const t = typeof body.timeout === 'number' ? body.timeout : user;
  return (t + 10) * 1000;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new DeviceError('TIMEOUT', message)), ms);
    }),
  ]);
}

export { ErrorCode };
