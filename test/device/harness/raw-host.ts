// A host end that sends raw message bytes over a real Link to the emulated device (no host
// codec or request queue in the way: a malicious host), records every byte it wrote, and can
// re-send exact frame bytes (replays).

import { crc32 as zlibCrc32 } from 'node:zlib';
import { EmulatedDevice } from '../../../board/emulator/device';
import { decodeHostMessage, encodeHostMessage } from '../../../host/src/link/codec';
import { Link } from '../../../protocol/src/link';
import { Message, MsgType } from '../../../protocol/src/messages';

export async function until(done: () => boolean, what: string, limitMs = 8000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export class RawHost {
  readonly link: Link;
  readonly received: Message[] = [];
  /** Every write to the line, as written (frames, COBS-encoded and delimited). */
  readonly written: Uint8Array[] = [];
  synced = 0;
  resets = 0;
  private nextId = 1000;
  constructor(readonly device: EmulatedDevice) {
    const line = device.usb;
    this.link = new Link({
      write: (b) => {
        this.written.push(Uint8Array.from(b));
        line.write(b);
      },
      crc32: (d) => zlibCrc32(d),
      timers: { now: () => performance.now(), set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as NodeJS.Timeout) },
      onMessage: (b) => this.received.push(decodeHostMessage(b, 'response')),
      onSynced: () => this.synced++,
      onReset: () => this.resets++,
    });
    line.onData((b) => this.link.receive(b));
  }
  /** (Re)synchronises the link (the device drops what it was asked for over the old one). */
  async sync(): Promise<void> {
    const n = this.synced;
    this.link.sync();
    await until(() => this.synced > n, 'the link handshake');
  }
  id(): number {
    return this.nextId++;
  }
  /** Sends a request built by the host codec (valid envelope); returns its id. */
  send(type: number, body: Record<string, unknown>, id = this.id()): number {
    this.sendBytes(encodeHostMessage(type, id, body, 'request'));
    return id;
  }
  sendBytes(bytes: Uint8Array): void {
    if (!this.link.send(bytes)) throw new Error('link queue full');
  }
  /** Replays exact bytes that went on the line before. */
  replay(bytes: Uint8Array): void {
    this.written.push(Uint8Array.from(bytes));
    this.device.usb.write(bytes);
  }
  /** The answers (not STATUS) with this id, in order. */
  answers(id: number): Message[] {
    return this.received.filter((m) => m.id === id && m.type !== MsgType.STATUS);
  }
  async answer(id: number, limitMs = 8000): Promise<Message> {
    await until(() => this.answers(id).length > 0, `an answer to request ${id}`, limitMs);
    return this.answers(id)[0];
  }
  close(): void {
    this.link.close();
  }
}
