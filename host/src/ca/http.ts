// The CA/RA's HTTP face (README.md "HTTP"): node:http on 127.0.0.1. What anyone may fetch — the
// root, the current revocation list, a certificate by serial — comes as the COSE bytes
// themselves (application/cbor); a card's on-line registration is a JSON request (bytes as
// base64url, the card id in hex, as the bank's API has them) answered with the issued
// certificate. Refusals are JSON `{error: {code, message}}` with a CaError code, never a stack.
//
// Issuing merchant, bank and TTP certificates and revoking stay with the CLI on the CA's own
// archive: they are decisions about who someone is, taken by the CA's operator after checks no
// request could carry, and a network face that could issue them would need credentials that,
// stolen, mint any identity. Registration needs none: the RA's one-time code is the credential.

import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { decodeCertificate } from '../../../shared/src/certificate';
import { listen, Listening } from '../services/http-server';
import { CaError, CaErrorCode, CertificationAuthority, KID_LENGTH, REGISTRATION_CODE, registrationStatement } from './authority';

export interface CaServerOptions {
  port?: number;
  host?: string;
  /** Days until a served revocation list's next update (default 7). */
  crlDays?: number;
  /** Failed registrations one client address may make in a window before it is refused (default 10). */
  maxFailures?: number;
  /** That window, seconds (default 3600). */
  failureWindow?: number;
  /** Seconds since 1970, for the failure window (default: system time). */
  now?: () => number;
}

export const CA_PATHS = { root: '/v1/root', crl: '/v1/crl', certificates: '/v1/certificates/', registrations: '/v1/registrations' } as const;

/** A registration is about 200 bytes of JSON; anything much larger is not one. */
export const MAX_REGISTRATION_BODY = 4096;
/** Addresses whose failures are remembered at most (the oldest are forgotten first). */
const MAX_CLIENTS = 10_000;

export const CA_STATUS: Record<CaErrorCode, number> = {
  BAD_REQUEST: 400,
  BAD_PROOF: 403,
  NOT_FOUND: 404,
  ALREADY_USED: 409,
  REVOKED: 409,
  EXPIRED: 410,
  TOO_LARGE: 413,
  TOO_MANY_FAILURES: 429,
  WRONG_KEY: 500,
  INTERNAL: 500,
  UNREACHABLE: 502,
  BAD_ANSWER: 502,
};

/** What POST /v1/registrations carries, checked. */
export interface RegistrationRequest {
  code: string;
  /** The card's ES256 signature (r‖s, 64 bytes) over registrationStatement(code). */
  signature: Uint8Array;
  /** The key id the device reported (8 bytes). */
  kid: Uint8Array;
  cardId?: Uint8Array;
}

/**
 * Failed registrations per client address in a fixed window. Codes have 64 random bits, so
 * guessing is hopeless anyway; this makes a guesser's traffic cost it nothing but refusals and
 * keeps a broken client from hammering the archive.
 */
class FailureLimit {
  private readonly seen = new Map<string, { since: number; count: number }>();

  constructor(
    private readonly max: number,
    private readonly window: number,
    private readonly now: () => number,
  ) {}

  refused(client: string): boolean {
    return (this.current(client)?.count ?? 0) >= this.max;
  }

  fail(client: string): void {
    const e = this.current(client) ?? { since: this.now(), count: 0 };
    e.count++;
    this.seen.delete(client); // re-inserted last: the map's order is the order to forget in
    this.seen.set(client, e);
    for (const oldest of this.seen.keys()) {
      if (this.seen.size <= MAX_CLIENTS) break;
      this.seen.delete(oldest);
    }
  }

  private current(client: string): { since: number; count: number } | undefined {
    const e = this.seen.get(client);
    if (e && this.now() - e.since >= this.window) {
      this.seen.delete(client);
      return undefined;
    }
    return e;
  }
}

function json(res: ServerResponse, status: number, body: unknown, close = false): void {
  const s = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s), 'cache-control': 'no-store' };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers).end(s);
}

function cbor(res: ServerResponse, status: number, bytes: Uint8Array, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/cbor', 'content-length': bytes.length, 'cache-control': 'no-store', ...extra }).end(Buffer.from(bytes));
}

/**
 * The body, or TOO_LARGE once it passes `max` bytes. A body over the limit is drained (not
 * kept), so the client reads the refusal instead of a reset connection.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  return new Promise((ok, fail) => {
    const tooLarge = (): void => {
      req.removeAllListeners('data').resume();
      fail(new CaError('TOO_LARGE', `a registration is at most ${max} bytes`));
    };
    if (declared > max) return tooLarge();
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) tooLarge();
      else chunks.push(c);
    });
    req.once('end', () => ok(Buffer.concat(chunks)));
    req.once('error', () => fail(new CaError('BAD_REQUEST', 'the request body was cut off')));
  });
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Exactly `length` bytes as unpadded base64url, or BAD_REQUEST naming `field`. */
function b64Field(v: unknown, field: string, length: number): Uint8Array {
  const b = typeof v === 'string' && B64URL.test(v) ? Buffer.from(v, 'base64url') : undefined;
  // Node's decoder skips what it cannot read; only the canonical spelling of `length` bytes passes
  if (!b || b.length !== length || b.toString('base64url') !== v) throw new CaError('BAD_REQUEST', `${field}: ${length} bytes as unpadded base64url`);
  return new Uint8Array(b);
}

/** Parses POST /v1/registrations' JSON body. BAD_REQUEST saying which field is wrong. */
export function parseRegistration(raw: Buffer): RegistrationRequest {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (_e) {
    throw new CaError('BAD_REQUEST', 'the body is not JSON (UTF-8)');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CaError('BAD_REQUEST', 'the body is a JSON object {code, signature, kid, cardId?}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['code', 'signature', 'kid', 'cardId'].includes(k)) throw new CaError('BAD_REQUEST', `unknown field ${JSON.stringify(k.slice(0, 40))}`);
  if (typeof o.code !== 'string' || !REGISTRATION_CODE.test(o.code)) throw new CaError('BAD_REQUEST', 'code: the registration code as in the RA\u2019s letter, XXXX-XXXX-XXXX-XXXX (hex digits, upper case)');
  const r: RegistrationRequest = { code: o.code, signature: b64Field(o.signature, 'signature', 64), kid: b64Field(o.kid, 'kid', KID_LENGTH) };
  if (o.cardId !== undefined) {
    if (typeof o.cardId !== 'string' || !/^([0-9a-f]{2}){1,32}$/.test(o.cardId)) throw new CaError('BAD_REQUEST', 'cardId: 1..32 bytes as lowercase hex');
    r.cardId = new Uint8Array(Buffer.from(o.cardId, 'hex'));
  }
  return r;
}

async function route(ca: CertificationAuthority, o: Required<Pick<CaServerOptions, 'crlDays'>>, limit: FailureLimit, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'http://ca').pathname;
  } catch (_e) {
    req.resume();
    throw new CaError('BAD_REQUEST', 'the request target is not a path');
  }
  if (req.method === 'GET') {
    if (path === '/v1/health') return json(res, 200, { ok: true });
    if (path === CA_PATHS.root) return cbor(res, 200, await ca.root());
    if (path === CA_PATHS.crl) return cbor(res, 200, await ca.revocationList(o.crlDays));
    if (path.startsWith(CA_PATHS.certificates)) {
      const serial = path.slice(CA_PATHS.certificates.length);
      if (!/^[1-9][0-9]{0,14}$/.test(serial)) throw new CaError('BAD_REQUEST', 'a serial is a whole number from 1');
      const found = (await ca.issued()).find((c) => c.serial === Number(serial));
      if (!found) throw new CaError('NOT_FOUND', `no certificate with serial ${serial}`);
      // revoked ones stay in the directory (a verifier needs them to see what was revoked); the header says so
      const revoked = (await ca.revoked()).includes(found.serial);
      return cbor(res, 200, found.certificate, revoked ? { 'semper-revoked': 'true' } : {});
    }
  }
  if (req.method === 'POST' && path === CA_PATHS.registrations) {
    const client = req.socket.remoteAddress ?? 'unknown';
    if (limit.refused(client)) {
      req.resume();
      throw new CaError('TOO_MANY_FAILURES', 'too many failed registrations from this address: try again later');
    }
    try {
      if (!/^application\/json(;|$)/.test(req.headers['content-type'] ?? '')) {
        req.resume();
        throw new CaError('BAD_REQUEST', 'content-type must be application/json');
      }
      const r = parseRegistration(await readBody(req, MAX_REGISTRATION_BODY));
      const certificate = await ca.register({ ...r, statement: registrationStatement(r.code) });
      return cbor(res, 201, certificate, { location: `${CA_PATHS.certificates}${decodeCertificate(certificate).serial ?? ''}` });
    } catch (e) {
      if (e instanceof CaError) limit.fail(client);
      throw e;
    }
  }
  throw new CaError('NOT_FOUND', `no route ${req.method ?? ''} ${path}`);
}

/** Starts the CA/RA's HTTP service (port 0: an ephemeral port). Makes the root first if the archive has none. */
export async function serveCa(ca: CertificationAuthority, o: CaServerOptions = {}): Promise<Listening> {
  await ca.root();
  const limit = new FailureLimit(o.maxFailures ?? 10, o.failureWindow ?? 3600, o.now ?? (() => Math.floor(Date.now() / 1000)));
  const opts = { crlDays: o.crlDays ?? 7 };
  const server = createServer((req, res) => {
    route(ca, opts, limit, req, res).catch((e: unknown) => {
      const err = e instanceof CaError ? e : new CaError('INTERNAL', 'internal error; nothing was issued');
      // a body left unread (too large, refused before reading) must not be read as the next request
      json(res, CA_STATUS[err.code], { error: { code: err.code, message: err.message } }, !req.complete);
    });
  });
  return listen(server, o);
}
