// A connection to one device that survives unplugging: it owns a transport, runs the link
// handshake (SYNC) and HELLO, and when the line goes away fails whatever was in flight with
// LINK_LOST, then re-opens the transport with backoff and shakes hands again. It never
// repeats a request by itself: a payment or signature retried needs a new confirmation on
// the device (SPEC §1.2 item 4, §3.8), so that decision stays with the caller.

import { EventEmitter } from 'node:events';
import { DeviceError, DeviceLink, DeviceLinkOptions, RequestOptions, StatusEvent } from '../link/device-link';
import { LinkResetReason } from '../../../protocol/src/link';
import { Transport, TransportClosedError } from './transports';

/**
 * - connecting: the first open + handshake;
 * - connected: HELLO answered, requests may be sent;
 * - reconnecting: the line or the link was lost and is being re-established (`attempt` counts);
 * - disconnected: the line is gone and waits for the next attempt, or reconnecting is off;
 * - closed: close() was called.
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

export interface StateChange {
  state: ConnectionState;
  /** Reconnection attempt (from 1) for `reconnecting`. */
  attempt?: number;
  /** Why the line or the attempt failed, in words. */
  reason?: string;
}

export interface BackoffOptions {
  /** First wait before reopening, ms (default 250). */
  initialMs?: number;
  /** Longest wait, ms (default 5000). */
  maxMs?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
}

export interface ConnectionOptions {
  /** Re-open after the line is lost (default true). */
  reconnect?: boolean;
  backoff?: BackoffOptions;
  /** Time for SYNC and for HELLO, each, ms (default 5000). */
  handshakeTimeoutMs?: number;
  /** Options of each DeviceLink (baud, rto, trace). */
  link?: DeviceLinkOptions;
}

/** The delay before reconnection attempt `n` (from 1). */
export function backoffDelay(n: number, b: BackoffOptions = {}): number {
  const initial = b.initialMs ?? 250;
  return Math.min(b.maxMs ?? 5000, initial * Math.pow(b.factor ?? 2, Math.max(0, n - 1)));
}

/**
 * Events: `state` (StateChange), `status` (StatusEvent, any request or none), `hello`
 * (the HELLO body after every handshake), `reset` (LinkResetReason: the device restarted
 * or stopped answering on an open line), `protocol-error` / `unsolicited-error` (DeviceError).
 */
export class DeviceConnection extends EventEmitter {
  private link: DeviceLink | null = null;
  private current: ConnectionState = 'idle';
  private helloBody: Record<string, unknown> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  /** A reconnection attempt's handshake is running. */
  private retrying = false;
  private readonly opts: ConnectionOptions;

  constructor(
    readonly transport: Transport,
    opts: ConnectionOptions = {},
  ) {
    super();
    this.opts = opts;
    transport.on('close', (err?: TransportClosedError) => this.onLineClosed(err));
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The last HELLO answer (firmware, board, serial, capabilities, card), or null before the first. */
  get hello(): Record<string, unknown> | null {
    return this.helloBody;
  }

  /** The link of the current connection (null while not connected). */
  get deviceLink(): DeviceLink | null {
    return this.current === 'connected' ? this.link : null;
  }

  /** Opens the line and shakes hands once; rejects if that fails (reconnecting starts only after a first success). */
  async open(): Promise<Record<string, unknown>> {
    if (this.current !== 'idle' && this.current !== 'disconnected') throw new Error(`the connection is ${this.current}`);
    this.setState({ state: 'connecting' });
    try {
      return await this.handshake();
    } catch (e) {
      this.setState({ state: 'disconnected', reason: (e as Error).message });
      throw e;
    }
  }

  /** Sends a request on the current link; NOT_CONNECTED while there is none. */
  request(type: number, body: Record<string, unknown>, opts: RequestOptions = {}): Promise<Record<string, unknown>> {
    const link = this.deviceLink;
    if (!link) {
      const how = this.current === 'closed' ? 'the connection was closed' : `the device is ${this.current}${this.current === 'reconnecting' ? ` (attempt ${this.attempt})` : ''}`;
      return Promise.reject(new DeviceError(this.current === 'closed' ? 'CLOSED' : 'NOT_CONNECTED', `not sent: ${how}`));
    }
    return link.request(type, body, opts);
  }

  /** Resolves once connected (at once if it is), or rejects after `timeoutMs` / on close. */
  whenConnected(timeoutMs = 10000): Promise<void> {
    if (this.current === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => done(new DeviceError('NOT_CONNECTED', `the device did not come back within ${timeoutMs} ms`)), timeoutMs);
      const on = (s: StateChange): void => {
        if (s.state === 'connected') done();
        else if (s.state === 'closed') done(new DeviceError('CLOSED', 'the connection was closed'));
      };
      const done = (e?: DeviceError): void => {
        clearTimeout(t);
        this.off('state', on);
        if (e) reject(e);
        else resolve();
      };
      this.on('state', on);
    });
  }

  /** Closes for good: in-flight requests fail with CLOSED; no reconnection. */
  close(): void {
    if (this.current === 'closed') return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const link = this.link;
    this.link = null;
    this.setState({ state: 'closed' });
    link?.close();
    this.transport.close();
  }

  // ------------------------------------------------------------ internals

  private async handshake(): Promise<Record<string, unknown>> {
    if (this.transport.state === 'closed') await this.transport.open();
    const link = new DeviceLink(this.transport, this.opts.link);
    this.link = link;
    link.on('status', (s: StatusEvent) => this.emit('status', s));
    link.on('protocol-error', (e: DeviceError) => this.emit('protocol-error', e));
    link.on('unsolicited-error', (e: DeviceError) => this.emit('unsolicited-error', e));
    link.on('reset', (reason: LinkResetReason) => this.onLinkReset(link, reason));
    let hello: Record<string, unknown>;
    try {
      hello = await link.connect({ timeoutMs: this.opts.handshakeTimeoutMs ?? 5000 });
    } catch (e) {
      if (this.link === link) this.link = null;
      link.close();
      throw e;
    }
    if (this.link !== link || this.current === 'closed') throw new DeviceError('CLOSED', 'the connection was closed during the handshake');
    link.on('synced', () => this.onLinkSynced(link));
    this.attempt = 0;
    this.helloBody = hello;
    this.setState({ state: 'connected' });
    this.emit('hello', hello);
    return hello;
  }

  /** The device restarted or stopped answering, on a line that is still open. */
  private onLinkReset(link: DeviceLink, reason: LinkResetReason): void {
    if (this.link !== link || this.current !== 'connected') return;
    this.emit('reset', reason);
    this.setState({ state: 'reconnecting', attempt: ++this.attempt, reason: reason === 'peer' ? 'the device restarted' : 'the device stopped answering' });
  }

  /** The link is up again after a reset: ask HELLO again (the firmware may have changed). */
  private onLinkSynced(link: DeviceLink): void {
    if (this.link !== link || this.current !== 'reconnecting') return;
    link.hello({ timeoutMs: this.opts.handshakeTimeoutMs ?? 5000 }).then(
      (hello) => {
        if (this.link !== link || this.current !== 'reconnecting') return;
        this.attempt = 0;
        this.helloBody = hello;
        this.setState({ state: 'connected' });
        this.emit('hello', hello);
      },
      // no HELLO on a synced link: treat the line as lost and start over
      (e: DeviceError) => this.lineLost(`HELLO after the reset failed: ${e.message}`),
    );
  }

  private onLineClosed(err: TransportClosedError | undefined): void {
    if (this.current === 'closed' || err === undefined) return;
    this.lineLost(err.message);
  }

  private lineLost(reason: string): void {
    const link = this.link;
    this.link = null;
    const handshaking = this.current === 'connecting' || this.retrying;
    if (link) {
      link.close(new DeviceError('LINK_LOST', `the line to the device was lost (${reason}) while a request was in flight: its outcome is unknown — for a purse operation read the log (READ_LOG) before trying again`));
    }
    this.transport.close();
    // open() reports its own failure; a reconnection attempt schedules the next one itself
    if (handshaking || this.current === 'disconnected') return;
    this.setState({ state: 'disconnected', reason });
    if (this.opts.reconnect !== false) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.current === 'closed') return;
    const n = this.attempt + 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.retry(n);
    }, backoffDelay(n, this.opts.backoff));
  }

  private async retry(n: number): Promise<void> {
    if (this.current === 'closed') return;
    this.attempt = n;
    this.setState({ state: 'reconnecting', attempt: n });
    this.retrying = true;
    try {
      await this.handshake();
    } catch (e) {
      if (this.state === 'closed') return;
      this.transport.close();
      this.setState({ state: 'disconnected', reason: (e as Error).message });
      this.scheduleRetry();
    } finally {
      this.retrying = false;
    }
  }

  private setState(s: StateChange): void {
    this.current = s.state;
    this.emit('state', s);
  }
}
