// The device end of the link: frames and messages on the USB line, one dispatcher that
// decodes before it calls, and the single place where failures become ERROR replies.

import { LinkEndpoint } from '../../../protocol/src/link';
import { decodeMessage, encodeMessage, peekId } from '../../../protocol/src/codec';
import { DeviceState, ErrorCode, Message, MessageError, MsgType } from '../../../protocol/src/messages';

/** What a handler gets: the checked request and a way to answer it. */
export interface Request {
  msg: Message;
  reply(body: { [name: string]: unknown }): void;
  /** ERROR with a code and the offending field: the host words it (SPEC §5.14). */
  fail(code: number, path?: string, triesLeft?: number): void;
}

export type Handler = (req: Request) => void;

/** Message type → handler. Types without a handler are answered UNSUPPORTED. */
export interface HandlerTable {
  [type: number]: Handler;
}

function clip(s: string, n: number): string {
  return s.length > n ? s.substr(0, n) : s;
}

export class HostLink {
  link: LinkEndpoint;
  handlers: HandlerTable;
  cardPresent: boolean;
  /** A host has completed the handshake since the last reset. */
  synced: boolean;
  /** Told when `synced` changes (the status bar shows it). */
  onLinkState: (synced: boolean) => void;
  /** Told of a handler's fault after the host got its ERROR (the operation must end). */
  onFault: (e: unknown) => void;
  /** The request id of the running operation (0: none), for DUPLICATE_ID. */
  runningId: () => number;

  constructor(handlers: HandlerTable) {
    this.handlers = handlers;
    this.cardPresent = false;
    this.synced = false;
    this.onLinkState = () => {};
    this.onFault = () => {};
    this.runningId = () => 0;
    this.link = new LinkEndpoint({
      write: (bytes) => USB.write(bytes),
      crc32: (data) => E.CRC32(data),
      timers: {
        now: () => getTime() * 1000,
        set: (fn, ms) => setTimeout(fn, ms),
        clear: (h) => clearTimeout(h as number),
      },
      random32: () => E.hwRand() >>> 0,
      // the host sends no events: requests come numbered or not at all
      onMessage: (bytes, event) => {
        if (!event) this.onMessage(bytes);
      },
      // after any handshake the host learns where the device stands
      onSynced: () => {
        this.synced = true;
        this.onLinkState(true);
        this.status(DeviceState.IDLE);
      },
      onReset: () => {
        this.synced = false;
        this.onLinkState(false);
      },
    });
    USB.on('data', (d) => this.link.receive(E.toUint8Array(d)));
  }

  /** Announces this boot: the host resets its side of the link. */
  start(): void {
    this.link.sync();
  }

  /** STATUS travels as an event frame: it never waits behind, or holds up, a response. */
  status(state: number, step?: number, steps?: number, label?: string, id?: number): void {
    const body: { [name: string]: unknown } = { state: state, card: this.cardPresent };
    if (steps) {
      body.step = step;
      body.steps = steps;
      body.label = clip(label || '', 32);
    }
    this.link.sendEvent(encodeMessage(MsgType.STATUS, id || 0, body, 'response'));
  }

  send(type: number, id: number, body: { [name: string]: unknown }): void {
    // Only responses and ERRORs queue (one operation runs at a time, STATUS goes as an
    // event), so a full queue means a flood of bad requests: their ERRORs are shed and
    // the host's own timeout reports them.
    this.link.send(encodeMessage(type, id, body, 'response'));
  }

  // No English on the wire from the device (SPEC §5.14): the host words the code.
  error(id: number, code: number, path?: string, triesLeft?: number): void {
    const body: { [name: string]: unknown } = { code: code };
    if (path) body.path = clip(path, 32);
    if (triesLeft !== undefined) body.triesLeft = triesLeft;
    this.send(MsgType.ERROR, id, body);
  }

  private onMessage(bytes: Uint8Array): void {
    let msg: Message;
    try {
      msg = decodeMessage(bytes, 'request');
    } catch (e) {
      const me = e as MessageError;
      try {
        if (me && typeof me.code === 'number') this.error(peekId(bytes), me.code, me.path);
        else this.error(peekId(bytes), ErrorCode.INTERNAL);
      } catch {
        // an ERROR that cannot be encoded must not take the link down with it
        this.error(peekId(bytes), ErrorCode.INTERNAL);
      }
      return;
    }
    if (msg.id === this.runningId()) {
      this.error(msg.id, ErrorCode.DUPLICATE_ID);
      return;
    }
    const h = this.handlers[msg.type];
    if (!h) {
      this.error(msg.id, ErrorCode.UNSUPPORTED);
      return;
    }
    let answered = false;
    const req: Request = {
      msg: msg,
      reply: (body) => {
        if (answered) return;
        answered = true;
        this.send(msg.type, msg.id, body);
      },
      fail: (code, path, triesLeft) => {
        if (answered) return;
        answered = true;
        this.error(msg.id, code, path, triesLeft);
      },
    };
    try {
      h(req);
    } catch (e) {
      // a handler fault must not leave the host waiting or the device half-way
      req.fail(ErrorCode.INTERNAL);
      this.status(DeviceState.IDLE);
      this.onFault(e);
    }
  }
}
