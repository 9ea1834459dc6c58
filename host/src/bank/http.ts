// The bank's HTTP face (API.md): node:http on 127.0.0.1, JSON bodies, bytes as base64url.
// This is the one place where BankErrors become HTTP answers.

import { timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { listen, Listening } from '../services/http-server';
import { PaymentReference } from '../payment/formats';
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

/** `?card={hex16}&counter={n}` or `?order={hex32}`, optional `&nonce={hex16..64}`. */
function statusQuery(q: URLSearchParams): [PaymentReference, Uint8Array | undefined] {
  for (const k of q.keys()) if (!['card', 'counter', 'order', 'nonce'].includes(k)) throw new BankError('BAD_REQUEST', `unknown query parameter ${k}`, k);
  const one = (k: string): string | undefined => {
    const v = q.getAll(k);
    if (v.length > 1) throw new BankError('BAD_REQUEST', `${k} given twice`, k);
    return v[0];
  };
  const [card, counter, order, nonce] = ['card', 'counter', 'order', 'nonce'].map(one);
  if (nonce !== undefined && !/^([0-9a-f]{2}){8,32}$/.test(nonce)) throw new BankError('BAD_REQUEST', 'nonce: 8..32 bytes as lowercase hex', 'nonce');
  const n = nonce === undefined ? undefined : new Uint8Array(Buffer.from(nonce, 'hex'));
  if (order !== undefined && card === undefined && counter === undefined) {
    if (!/^[0-9a-f]{32}$/.test(order)) throw new BankError('BAD_REQUEST', 'order: 32 lowercase hex characters', 'order');
    return [{ orderId: order }, n];
  }
  if (order !== undefined || card === undefined || counter === undefined) throw new BankError('BAD_REQUEST', 'give order, or card and counter', 'query');
  if (!/^[0-9a-f]{16}$/.test(card)) throw new BankError('BAD_REQUEST', 'card: 16 lowercase hex characters', 'card');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(counter) || !Number.isSafeInteger(Number(counter))) throw new BankError('BAD_REQUEST', 'counter: an unsigned integer', 'counter');
  return [{ cardId: new Uint8Array(Buffer.from(card, 'hex')), counter: Number(counter) }, n];
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
  const account = /^\/v1\/accounts\/([a-z0-9][A-Za-z0-9._:-]{0,63})(\/fund|\/cards)?$/.exec(path);
  if (req.method === 'GET') {
    if (path === '/v1/health') return { status: 200, body: { ok: true } };
    if (path === '/v1/issuer') return { status: 200, body: { publicKey: b64(bank.issuerPublicKey), bankKey: b64(bank.bankPublicKey) } };
    if (path === '/v1/bank') return { status: 200, body: bank.info() };
    if (path === '/v1/payments/status') return { status: 200, body: bank.paymentStatus(...statusQuery(url.searchParams)) };
    if (account && !account[2]) {
      // the admin, or a read signed by the account's own key (API.md "Authenticated reads")
      const signed = /^SEMPER-Signed ([A-Za-z0-9_-]{1,4096})$/.exec(req.headers.authorization ?? '');
      if (signed) bank.checkSignedRead(account[1], path, new Uint8Array(Buffer.from(signed[1], 'base64url')));
      else admin();
      return { status: 200, body: { account: bank.getAccount(account[1]) } };
    }
    if (path === '/v1/audit') return admin(), { status: 200, body: bank.audit() };
    if (path === '/v1/refusals') return admin(), { status: 200, body: { refusals: bank.refusals() } };
  }
  if (req.method === 'POST') {
    if (path === '/v1/accounts') return admin(), bank.openAccount(await jsonBody(req));
    if (account && account[2] === '/fund') return admin(), bank.fund(account[1], await jsonBody(req));
    if (account && account[2] === '/cards') return admin(), bank.registerCard(account[1], await jsonBody(req));
    if (path === '/v1/refunds') return bank.refund(await jsonBody(req));
    if (path === '/v1/deposits') return bank.deposit(await jsonBody(req));
    if (path === '/v1/payments') return bank.settleOrder(await jsonBody(req));
    if (path === '/v1/loads') return bank.load(await jsonBody(req));
  }
  throw new BankError('NOT_FOUND', `no route ${req.method} ${path}`);
}

/** Starts the bank's HTTP service (port 0: an ephemeral port). */
export async function serveBank(bank: Bank, o: BankServerOptions): Promise<Listening> {
  const server = createServer((req, res) => {
    route(bank, o, req).then(
      (a) => send(res, a),
      (e) => send(res, errorAnswer(e instanceof BankError ? e : new BankError('INTERNAL', 'internal error; nothing was committed'))),
    );
  });
  return listen(server, o);
}
