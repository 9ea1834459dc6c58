// The third party's HTTP face (README.md): node:http on 127.0.0.1. A request is the signed
// CBOR request itself (application/cbor), the answer the signed decision (application/cbor);
// a request it will not decide on gets a JSON error with the ExchangeError code.

import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { listen, Listening } from '../services/http-server';
import { readBody } from '../transfer/channel';
import { ExchangeError, ExchangeErrorCode, isExchangeError } from '../exchange/errors';
import { TtpPort } from '../exchange/manager';
import { ThirdParty } from './third-party';

export const TTP_PATH = '/v1/decisions';
const MAX_BODY = 4 << 20;

const STATUS: Record<ExchangeErrorCode, number> = {
  MALFORMED: 400,
  BAD_SIGNATURE: 403,
  WRONG_EXCHANGE: 409,
  MISMATCH: 422,
  NO_PROTOCOL: 422,
  REFUSED: 422,
  DEADLINE: 422,
  DECIDED: 409,
  UNKNOWN_EXCHANGE: 404,
  UNKNOWN_ITEM: 422,
  CHANNEL: 502,
};

function json(res: ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s), 'cache-control': 'no-store' }).end(s);
}

async function route(ttp: ThirdParty, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://ttp').pathname;
  if (req.method === 'GET' && path === '/v1/health') return json(res, 200, { ok: true });
  if (req.method === 'GET' && path === '/v1/ttp') return json(res, 200, { name: ttp.party.name, publicKey: Buffer.from(ttp.party.publicKey).toString('base64url') });
  if (req.method === 'POST' && path === TTP_PATH) {
    if (req.headers['content-type'] !== 'application/cbor') throw new ExchangeError('MALFORMED', 'content-type must be application/cbor', 'content-type');
    const body = await readBody(req, MAX_BODY);
    if (!body) throw new ExchangeError('MALFORMED', `body larger than ${MAX_BODY} bytes`, 'body');
    const decision = await ttp.handle(new Uint8Array(body));
    res.writeHead(200, { 'content-type': 'application/cbor', 'content-length': decision.length, 'cache-control': 'no-store' }).end(Buffer.from(decision));
    return;
  }
  json(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` } });
}

/** Starts the third party's HTTP service (port 0: an ephemeral port). */
export async function serveThirdParty(ttp: ThirdParty, o: { port?: number; host?: string } = {}): Promise<Listening> {
  const server = createServer((req, res) => {
    route(ttp, req, res).catch((e: unknown) => {
      const err = isExchangeError(e) ? e : new ExchangeError('REFUSED', 'internal error; nothing was decided');
      json(res, isExchangeError(e) ? STATUS[err.code] : 500, { error: { code: err.code, message: err.message, detail: err.detail } });
    });
  });
  return listen(server, o);
}

/** The exchange manager's port to a third party over HTTP: its refusals come back as the same ExchangeErrors. */
export function httpThirdParty(url: string): TtpPort {
  return {
    async request(signed, signal) {
      let res: Response;
      try {
        res = await fetch(new URL(TTP_PATH, url), { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: signed, signal });
      } catch (e) {
        throw new ExchangeError('CHANNEL', `the third party at ${url} cannot be reached: ${(e as Error).message}`);
      }
      if (res.ok) return new Uint8Array(await res.arrayBuffer());
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: ExchangeErrorCode; message?: string; detail?: string } };
      const code = body.error?.code && body.error.code in STATUS ? body.error.code : 'CHANNEL';
      throw new ExchangeError(code, `the third party refused: ${body.error?.message ?? `HTTP ${res.status}`}`, body.error?.detail);
    },
  };
}
