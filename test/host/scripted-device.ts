// A device end whose behaviour each test scripts: a raw protocol Link over a Line, the
// device codec, and helpers to answer, fail and report progress. Shared by the host suites.

import { crc32 } from 'node:zlib';
import { Link } from '../../protocol/src/link';
import { decodeMessage, encodeMessage } from '../../protocol/src/codec';
import { Message, MsgType } from '../../protocol/src/messages';
import { Line } from '../../shared/src/line';

export const timers = { now: () => performance.now(), set: (fn: () => void, ms: number) => setTimeout(fn, ms), clear: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };

export const HELLO_OK = { version: 1, firmware: '0.1.0', board: 'TEST', serial: new Uint8Array(4), capabilities: [1, 2, 11], card: false, maxMessage: 2048 };

export class ScriptedDevice {
  link: Link;
  requests: Message[] = [];
  onRequest: (m: Message) => void = () => {};
  constructor(readonly line: Line) {
    this.link = this.make();
  }
  make(): Link {
    const link = new Link({
      write: (b) => this.line.write(b),
      crc32: (d) => crc32(d),
      timers,
      rto: 30,
      onMessage: (b) => {
        const m = decodeMessage(b, 'request');
        this.requests.push(m);
        this.onRequest(m);
      },
    });
    this.line.onData((b) => link.receive(b));
    return link;
  }
  reply(m: Message, body: Record<string, unknown>): void {
    this.link.send(encodeMessage(m.type, m.id, body, 'response'));
  }
  error(id: number, code: number, message: string, extra: Record<string, unknown> = {}): void {
    this.link.send(encodeMessage(MsgType.ERROR, id, { code, message, ...extra }, 'response'));
  }
  status(id: number, body: Record<string, unknown>): void {
    this.link.sendEvent(encodeMessage(MsgType.STATUS, id, body, 'response'));
  }
}

/** Waits until `cond` holds (polling), so the tests do not depend on the machine's speed. */
export async function until(cond: () => boolean, what: string, maxMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > maxMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
