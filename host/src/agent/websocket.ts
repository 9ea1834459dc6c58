// The small part of RFC 6455 the agent needs: the server's opening handshake, frames in both
// directions (masked from clients, unmasked from the server), ping/pong and the closing
// handshake. The agent only sends events; what clients send is read for control frames and
// otherwise ignored. No extensions (no permessage-deflate), no fragmented messages.

import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The largest frame payload accepted from a client: the agent expects only control frames. */
export const MAX_CLIENT_PAYLOAD = 4096;

export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** A key is 16 random bytes in base64 (RFC 6455 §4.1). */
export function isValidKey(key: string | undefined): key is string {
  return typeof key === 'string' && /^[A-Za-z0-9+/]{22}==$/.test(key) && Buffer.from(key, 'base64').length === 16;
}

/** One frame, FIN set; masked with `mask` (4 bytes) when given — clients must mask, servers must not. */
export function encodeFrame(opcode: number, payload: Uint8Array, mask?: Uint8Array): Buffer {
  const n = payload.length;
  const len = n < 126 ? 1 : n < 65536 ? 3 : 9;
  const head = Buffer.alloc(1 + len + (mask ? 4 : 0));
  head[0] = 0x80 | opcode;
  const m = mask ? 0x80 : 0;
  if (n < 126) head[1] = m | n;
  else if (n < 65536) {
    head[1] = m | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = m | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  const body = Buffer.from(payload);
  if (mask) {
    mask = Buffer.from(mask);
    head.set(mask, 1 + len);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  }
  return Buffer.concat([head, body]);
}

export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
  /** The close code to answer with (1002 protocol error, 1009 too big). */
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Splits a byte stream into frames. `requireMask`: true on the server (a client's frame
 * without mask is a protocol error), false on a client.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly requireMask: boolean,
    private readonly maxPayload = MAX_CLIENT_PAYLOAD,
  ) {}

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    for (;;) {
      const f = this.next();
      if (!f) return out;
      out.push(f);
    }
  }

  private next(): Frame | null {
    const b = this.buf;
    if (b.length < 2) return null;
    if (b[0] & 0x70) throw new FrameError(1002, 'reserved bits set (no extension was negotiated)');
    const masked = (b[1] & 0x80) !== 0;
    if (masked !== this.requireMask) throw new FrameError(1002, this.requireMask ? 'client frames must be masked' : 'server frames must not be masked');
    let len = b[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(this.maxPayload)) throw new FrameError(1009, 'frame too large');
      len = Number(big);
      off = 10;
    }
    if (len > this.maxPayload) throw new FrameError(1009, 'frame too large');
    const maskAt = off;
    if (masked) off += 4;
    if (b.length < off + len) return null;
    const payload = Buffer.from(b.subarray(off, off + len));
    if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[maskAt + (i & 3)];
    this.buf = b.subarray(off + len);
    const opcode = b[0] & 0x0f;
    const fin = (b[0] & 0x80) !== 0;
    if (opcode >= 0x8 && (!fin || len > 125)) throw new FrameError(1002, 'control frames are at most 125 bytes and not fragmented');
    return { fin, opcode, payload };
  }
}

/**
 * The server end of an open WebSocket: `send` text, answers pings, completes the closing
 * handshake, and reports `onClose` once. Client data frames are ignored (the agent's events
 * socket is one-way), fragments and oversize frames close it.
 */
export class ServerSocket {
  private closed = false;
  private readonly reader = new FrameReader(true);
  private readonly closeListeners: (() => void)[] = [];

  constructor(private readonly socket: Duplex) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  onClose(f: () => void): void {
    this.closeListeners.push(f);
  }

  send(text: string): void {
    if (!this.closed) this.socket.write(encodeFrame(OP.text, Buffer.from(text, 'utf8')));
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    const p = Buffer.alloc(2 + Buffer.byteLength(reason));
    p.writeUInt16BE(code, 0);
    p.write(reason, 2);
    this.socket.end(encodeFrame(OP.close, p));
    this.finish(false);
    // the peer answers with its close frame and closes; one that does not is cut off
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      return this.close(e instanceof FrameError ? e.closeCode : 1002, 'protocol error');
    }
    for (const f of frames) {
      if (f.opcode === OP.ping) this.socket.write(encodeFrame(OP.pong, f.payload));
      else if (f.opcode === OP.close) return this.close(1000);
      else if (!f.fin || f.opcode === OP.continuation) return this.close(1003, 'fragmented messages are not accepted');
      // text, binary, pong: nothing to do, the socket carries events one way
    }
  }

  private finish(destroy = true): void {
    if (this.closed) return;
    this.closed = true;
    if (destroy) this.socket.destroy();
    for (const f of this.closeListeners.splice(0)) f();
  }
}

/** A random 4-byte mask (clients). */
export const newMask = (): Buffer => randomBytes(4);
