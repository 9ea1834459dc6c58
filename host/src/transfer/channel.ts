// Channels: how envelopes travel between two transfer managers. A channel carries opaque
// bytes one request/answer at a time and knows nothing of security attributes — those are
// applied to the bytes before they enter (manager.ts). Two channels here: an in-memory pair
// (tests, two managers in one process) and HTTP (POST /semper/transfer, application/cbor).

import { createServer, IncomingMessage } from 'node:http';
import { listen, Listening } from '../services/http-server';
import { TransferError } from './errors';

/** The sending side: one envelope out, the peer's answer back. */
export interface Channel {
  request(envelope: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/** The receiving side: an envelope in, the answer out (never throws: errors are answers). */
export type TransferHandler = (envelope: Uint8Array) => Promise<Uint8Array>;

export interface MemoryChannelOptions {
  /** Sees (and may change) the bytes on the way there: an attacker on the line, in tests. */
  onRequest?: (b: Uint8Array) => Uint8Array;
  /** The same on the way back. */
  onAnswer?: (b: Uint8Array) => Uint8Array;
}

/** A channel straight into `handler`, copying the bytes both ways. */
export function memoryChannel(handler: TransferHandler, opts: MemoryChannelOptions = {}): Channel {
  return {
    async request(envelope) {
      const there = (opts.onRequest ?? ((b) => b))(envelope.slice());
      const back = await handler(there);
      return (opts.onAnswer ?? ((b) => b))(back.slice());
    },
  };
}

export const TRANSFER_PATH = '/semper/transfer';
const MAX_BODY = 8 << 20;

/** Reads a request body up to `max` bytes; null when it is larger. */
export async function readBody(req: IncomingMessage, max = MAX_BODY): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) return null;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** An HTTP endpoint for `handler` on 127.0.0.1 (port 0: an ephemeral one). */
export async function serveTransfers(handler: TransferHandler, opts: { port?: number; host?: string } = {}): Promise<Listening> {
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST' || req.url !== TRANSFER_PATH) {
        res.writeHead(404).end();
        return;
      }
      if ((req.headers['content-type'] ?? '') !== 'application/cbor') {
        res.writeHead(415).end();
        return;
      }
      const body = await readBody(req);
      if (!body) {
        res.writeHead(413).end();
        return;
      }
      const answer = await handler(new Uint8Array(body));
      res.writeHead(200, { 'content-type': 'application/cbor', 'content-length': answer.length }).end(answer);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const l = await listen(server, opts);
  return { ...l, url: `${l.url}${TRANSFER_PATH}` };
}

/** A channel to a transfer endpoint at `url`. CHANNEL on any transport failure. */
export function httpChannel(url: string): Channel {
  return {
    async request(envelope, signal) {
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: envelope, signal });
      } catch (e) {
        throw new TransferError('CHANNEL', `cannot reach the peer: ${(e as Error).message}`);
      }
      if (res.status !== 200) throw new TransferError('CHANNEL', `the peer answered HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
