// The bank's HTTP face (API.md): node:http on 127.0.0.1, JSON bodies, bytes as base64url.
// This is the one place where BankErrors become HTTP answers.

import { timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { readBody } from '../transfer/channel';
import { Answer, b64, Bank, errorAnswer } from './bank';
import { BankError } from './errors';

export interface BankServerOptions {
  port?: number;
  host?: string;
  /** Bearer token of the administrative requests (open account, fund, audit, refusals). */
  adminToken: string;
}

const MAX_BODY = 256 * 1024;

function send(res: ServerResponse, a: Answer): void {
  const body = JSON.stringify(a.body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' };
  if (a.replay) headers['idempotent-replay'] = 'true';
  res.writeHead(a.status, headers).end(body);
}

function isAdmin(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json(;|$)/.test(req.headers['content-type'] ?? '')) throw new BankError('BAD_REQUEST', 'content-type must be application/json', 'content-type');
  const raw = await readBody(req, MAX_BODY);
  if (!raw) throw new BankError('BAD_REQUEST', `body larger than ${MAX_BODY} bytes`, 'body');
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch (_e) {
    throw new BankError('BAD_REQUEST', 'body is not JSON', 'body');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BankError('BAD_REQUEST', 'body must be a JSON object', 'body');
  return v as Record<string, unknown>;
}

/** Routes one request to the bank. */
async function route(bank: Bank, o: BankServerOptions, req: IncomingMessage): Promise<Answer> {
  const url = new URL(req.url ?? '/', 'http://bank');
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch (_e) {
    throw new BankError('BAD_REQUEST', 'the path is not valid percent-encoding', 'path');
  }
  const admin = () => {
    if (!isAdmin(req, o.adminToken)) throw new BankError('UNAUTHORIZED', 'this request needs the admin token');
  };
  const account = /^\/v1\/accounts\/([a-z0-9][A-Za-z0-9._:-]{0,63})(\/fund)?$/.exec(path);
  if (req.method === 'GET') {
    if (path === '/v1/health') return { status: 200, body: { ok: true } };
    if (path === '/v1/issuer') return { status: 200, body: { publicKey: b64(bank.issuerPublicKey) } };
    if (account && !account[2]) return { status: 200, body: { account: bank.getAccount(account[1]) } };
    if (path === '/v1/audit') return admin(), { status: 200, body: bank.audit() };
    if (path === '/v1/refusals') return admin(), { status: 200, body: { refusals: bank.refusals() } };
  }
  if (req.method === 'POST') {
    if (path === '/v1/accounts') return admin(), bank.openAccount(await jsonBody(req));
    if (account && account[2]) return admin(), bank.fund(account[1], await jsonBody(req));
    if (path === '/v1/deposits') return bank.deposit(await jsonBody(req));
    if (path === '/v1/payments') return bank.settleOrder(await jsonBody(req));
    if (path === '/v1/loads') return bank.load(await jsonBody(req));
  }
  throw new BankError('NOT_FOUND', `no route ${req.method} ${path}`);
}

/** Starts the bank's HTTP service (port 0: an ephemeral port). */
export async function serveBank(bank: Bank, o: BankServerOptions): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    route(bank, o, req).then(
      (a) => send(res, a),
      (e) => send(res, errorAnswer(e instanceof BankError ? e : new BankError('INTERNAL', 'internal error; nothing was committed'))),
    );
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => ok());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.address}:${a.port}`,
    server,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
