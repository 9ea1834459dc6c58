// The reliable link: sequence numbers, acknowledgement, retransmission, duplicate
// suppression and resynchronisation over FrameReader/encodeFrame (SPEC.md §3).
//
// Flow control is stop-and-wait in each direction: at most one DATA frame is
// unacknowledged per direction. Acks ride on the next DATA frame when one leaves
// within `ackDelay`, otherwise a bare ACK frame is sent. The same code runs on the
// device (Espruino) and on the host; clock, timers, CRC and the line are injected.

import { TWO32 } from './cbor';
import { Crc32, encodeFrame, Frame, FrameKind, FrameKindValue, FrameReader, MAX_PAYLOAD } from './frame';
import { WORDED } from './wording';
import { COUNTED } from './counting';

export interface LinkTimers {
  /** Milliseconds, monotonic. */
  now(): number;
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface LinkOptions {
  /** Writes bytes to the line. */
  write(bytes: Uint8Array): void;
  crc32: Crc32;
  timers: LinkTimers;
  /**
   * A complete message arrived: in order and exactly once from a DATA frame, or as it
   * came (maybe lost, maybe twice) from an EVENT frame, with `event` true.
   */
  onMessage(payload: Uint8Array, event: boolean): void;
  /**
   * The link was reset: `peer` when the other side sent SYNC (it restarted or
   * resynchronised), `timeout` when a frame went unacknowledged `maxRetries` times.
   * Queued and unacknowledged messages are dropped before this is called.
   */
  onReset?(reason: LinkResetReason, dropped: number): void;
  /** The link is up: our SYNC was answered, or the peer's SYNC was (after onReset). */
  onSynced?(): void;
  /** Frame trace for demos and tests. */
  onTrace?(dir: 'tx' | 'rx', f: Frame, wire: Uint8Array | null): void;
  /** Base retransmission timeout, ms (default 250). */
  rto?: number;
  /** Retransmissions before the link is declared lost (default 5). */
  maxRetries?: number;
  /** How long an ack may wait for a DATA frame to ride on, ms (default 20). */
  ackDelay?: number;
  /** Line rate for the transmission-time part of the timeout (default 115200). */
  baud?: number;
  /** Most messages waiting to be sent (default 8). */
  maxQueue?: number;
  /**
   * A frame sent less than this many ms after our previous frame left the line (as
   * estimated from `baud`) shares its delimiter instead of leading with its own 0x00
   * (default 20; 0 = always lead).
   */
  idleGap?: number;
  /** Random 32-bit nonce source for SYNC (default Math.random). */
  random32?(): number;
}

export type LinkResetReason = 'peer' | 'timeout' | 'local';

export interface LinkStats {
  sent: number;
  received: number;
  retransmissions: number;
  duplicates: number;
  outOfOrder: number;
  resets: number;
  eventsSent: number;
  eventsReceived: number;
}

const NONE = -1;

/**
 * One end of the link: all that the device and the host both run. The device's firmware uses
 * this class alone (esbuild cannot leave out a class's unused methods, and every method is
 * flash and JsVars on the board); the host's `Link` adds what only it asks.
 */
export class LinkEndpoint {
  private txSeq: number;
  protected outstanding: Uint8Array | null;
  private outstandingSeq: number;
  private retries: number;
  private rtxTimer: unknown;
  protected queue: Uint8Array[];
  private rxLast: number;
  private ackPending: boolean;
  private ackTimer: unknown;
  private syncNonce: number;
  private syncTimer: unknown;
  private syncTries: number;
  protected reader: FrameReader;
  /** When our last frame has left the line (estimated from the line rate), ms; -1 before any. */
  private lineFreeAt: number;
  private o: LinkOptions;
  stats!: LinkStats;

  constructor(o: LinkOptions) {
    this.o = o;
    this.reader = new FrameReader(o.crc32, (f) => this.onFrame(f));
    if (COUNTED) this.stats = { sent: 0, received: 0, retransmissions: 0, duplicates: 0, outOfOrder: 0, resets: 0, eventsSent: 0, eventsReceived: 0 };
    this.lineFreeAt = -1;
    this.txSeq = 0;
    this.outstanding = null;
    this.outstandingSeq = NONE;
    this.retries = 0;
    this.rtxTimer = null;
    this.queue = [];
    this.rxLast = 0xff;
    this.ackPending = false;
    this.ackTimer = null;
    this.syncNonce = NONE;
    this.syncTimer = null;
    this.syncTries = 0;
  }

  /** True while our SYNC waits for its answer: messages queue until then. */
  get syncing(): boolean {
    return this.syncNonce !== NONE;
  }

  /** Bytes arrived from the line, in pieces of any size. */
  receive(chunk: Uint8Array): void {
    this.reader.push(chunk);
  }

  /**
   * Queues one message. Returns false (and queues nothing) if the queue is full:
   * the caller decides what to shed.
   */
  send(payload: Uint8Array): boolean {
    if (payload.length > MAX_PAYLOAD) throw { code: 'TOO_LARGE', message: WORDED ? 'message of ' + payload.length + ' bytes exceeds ' + MAX_PAYLOAD : '' };
    if (this.queue.length >= (this.o.maxQueue || 8)) return false;
    this.queue.push(payload);
    this.pump();
    return true;
  }

  /**
   * Sends an advisory event (STATUS) at once, outside the sequence: never queued,
   * acknowledged or retransmitted, so it cannot hold up a response; a lost event is
   * superseded by the next. Returns false while the link is not synchronised.
   */
  sendEvent(payload: Uint8Array): boolean {
    if (payload.length > MAX_PAYLOAD) throw { code: 'TOO_LARGE', message: WORDED ? 'event of ' + payload.length + ' bytes exceeds ' + MAX_PAYLOAD : '' };
    if (this.syncing) return false;
    if (COUNTED) this.stats.eventsSent++;
    this.emit(FrameKind.EVENT, 0, payload);
    return true;
  }

  /** Starts (or restarts) the link: both sides reset their sequence numbers. */
  sync(): void {
    this.dropAll('local');
    this.startSync();
  }

  private startSync(): void {
    const rnd = this.o.random32 ? this.o.random32() : Math.floor(Math.random() * TWO32);
    this.syncNonce = rnd >>> 0;
    this.syncTries = 0;
    this.sendSync();
  }

  // ------------------------------------------------------------ internals

  protected stopTimer(name: 'rtxTimer' | 'ackTimer' | 'syncTimer'): void {
    if (this[name] !== null) {
      this.o.timers.clear(this[name]);
      this[name] = null;
    }
  }

  private emit(kind: FrameKindValue, seq: number, payload: Uint8Array): void {
    const f: Frame = { kind: kind, seq: seq, ack: this.rxLast, payload: payload };
    const now = this.o.timers.now();
    const gap = this.o.idleGap === undefined ? 20 : this.o.idleGap;
    // lead with our own 0x00 only if the line has been idle for idleGap or more
    const wire = encodeFrame(f, this.o.crc32, this.lineFreeAt < 0 || now - this.lineFreeAt >= gap);
    this.lineFreeAt = Math.max(now, this.lineFreeAt) + (wire.length * 10 * 1000) / (this.o.baud || 115200);
    if (this.o.onTrace) this.o.onTrace('tx', f, wire);
    // any frame we send carries our ack
    this.ackPending = false;
    this.stopTimer('ackTimer');
    this.o.write(wire);
  }

  private timeout(bytes: number): number {
    const baud = this.o.baud || 115200;
    // two transmission times (ours and the ack's) on top of the base timeout
    return (this.o.rto || 250) + Math.ceil((2 * (bytes + 16) * 10 * 1000) / baud);
  }

  private pump(): void {
    if (this.outstanding || this.syncing || this.queue.length === 0) return;
    this.outstanding = this.queue.shift() as Uint8Array;
    this.outstandingSeq = this.txSeq;
    this.txSeq = (this.txSeq + 1) & 0xff;
    this.retries = 0;
    if (COUNTED) this.stats.sent++;
    this.transmit();
  }

  private transmit(): void {
    const p = this.outstanding as Uint8Array;
    this.emit(FrameKind.DATA, this.outstandingSeq, p);
    // exponential backoff, capped at 8× the base
    const backoff = this.retries < 3 ? 1 << this.retries : 8;
    this.stopTimer('rtxTimer');
    this.rtxTimer = this.o.timers.set(() => this.onRtx(), this.timeout(p.length) * backoff);
  }

  private onRtx(): void {
    this.rtxTimer = null;
    if (!this.outstanding) return;
    if (this.retries >= (this.o.maxRetries === undefined ? 5 : this.o.maxRetries)) {
      this.lost();
      return;
    }
    this.retries++;
    if (COUNTED) this.stats.retransmissions++;
    this.transmit();
  }

  /** The peer stopped answering: drop what we hold and resynchronise. */
  private lost(): void {
    const n = this.dropAll('timeout');
    // start the handshake before telling the owner, so that what it sends from
    // onReset waits for the new link instead of being dropped by it
    this.startSync();
    if (this.o.onReset) this.o.onReset('timeout', n);
  }

  private dropAll(reason: LinkResetReason): number {
    const n = this.queue.length + (this.outstanding ? 1 : 0);
    this.queue = [];
    this.outstanding = null;
    this.outstandingSeq = NONE;
    this.stopTimer('rtxTimer');
    this.stopTimer('ackTimer');
    this.ackPending = false;
    this.txSeq = 0;
    this.rxLast = 0xff;
    if (COUNTED && reason !== 'local') this.stats.resets++;
    return n;
  }

  private sendSync(): void {
    this.emit(FrameKind.SYNC, 0, nonceBytes(this.syncNonce));
    this.stopTimer('syncTimer');
    this.syncTimer = this.o.timers.set(() => {
      this.syncTimer = null;
      if (!this.syncing) return;
      this.syncTries++;
      // keep trying, slower after a while: a device may be plugged in at any time
      this.sendSync();
    }, this.timeout(8) * (this.syncTries < 3 ? 1 << this.syncTries : 8));
  }

  private scheduleAck(): void {
    this.ackPending = true;
    if (this.ackTimer !== null) return;
    this.ackTimer = this.o.timers.set(() => {
      this.ackTimer = null;
      if (this.ackPending) this.emit(FrameKind.ACK, 0, EMPTY);
    }, this.o.ackDelay === undefined ? 20 : this.o.ackDelay);
  }

  private onFrame(f: Frame): void {
    if (this.o.onTrace) this.o.onTrace('rx', f, null);
    if (f.kind === FrameKind.SYNC) {
      if (f.payload.length !== 4) return;
      // the peer restarted or resynchronises: everything in flight is void
      const n = this.dropAll('peer');
      this.syncNonce = NONE;
      this.stopTimer('syncTimer');
      this.emit(FrameKind.SYNC_ACK, 0, f.payload);
      if (this.o.onReset) this.o.onReset('peer', n);
      // the link is up again, whoever started the handshake
      if (this.o.onSynced) this.o.onSynced();
      return;
    }
    if (f.kind === FrameKind.SYNC_ACK) {
      if (f.payload.length !== 4 || !this.syncing || readNonce(f.payload) !== this.syncNonce) return;
      this.syncNonce = NONE;
      this.stopTimer('syncTimer');
      if (this.o.onSynced) this.o.onSynced();
      this.pump();
      return;
    }
    if (this.syncing) return; // until the handshake completes, nothing else counts
    if (f.kind === FrameKind.ACK && f.payload.length !== 0) return; // not a valid ACK: ignore it whole
    // DATA, ACK and EVENT all carry the peer's cumulative ack
    if (this.outstanding && f.ack === this.outstandingSeq) {
      this.outstanding = null;
      this.outstandingSeq = NONE;
      this.stopTimer('rtxTimer');
    }
    if (f.kind === FrameKind.DATA) {
      const expected = (this.rxLast + 1) & 0xff;
      if (f.seq === expected) {
        this.rxLast = f.seq;
        if (COUNTED) this.stats.received++;
        this.scheduleAck();
        this.o.onMessage(f.payload, false);
      } else if (f.seq === this.rxLast) {
        // our ack was lost: acknowledge again, deliver nothing
        if (COUNTED) this.stats.duplicates++;
        this.emit(FrameKind.ACK, 0, EMPTY);
      } else {
        if (COUNTED) this.stats.outOfOrder++;
        this.emit(FrameKind.ACK, 0, EMPTY);
      }
    } else if (f.kind === FrameKind.EVENT) {
      if (COUNTED) this.stats.eventsReceived++;
      this.o.onMessage(f.payload, true);
    }
    this.pump();
  }
}

/** The host's end of the link: the endpoint, and what only the host asks of it. */
export class Link extends LinkEndpoint {
  /** Line statistics of the frame reader (CRC errors, noise). */
  get frameStats() {
    return this.reader.stats;
  }

  /** Messages waiting, the unacknowledged one included. */
  get pending(): number {
    return this.queue.length + (this.outstanding ? 1 : 0);
  }

  /** Stops all timers (the line is gone). */
  close(): void {
    this.stopTimer('rtxTimer');
    this.stopTimer('ackTimer');
    this.stopTimer('syncTimer');
    this.queue = [];
    this.outstanding = null;
  }
}

const EMPTY = new Uint8Array(0);

function nonceBytes(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function readNonce(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}
