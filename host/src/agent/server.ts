// The buyer agent's local API: HTTP and one WebSocket on 127.0.0.1 for merchant pages in the
// buyer's browser (ARCHITECTURE §6 step 1). Like Trezor Bridge, stricter: every request passes
// the gate in guard.ts — Host (DNS rebinding), Origin against the allow-list of paired origins
// (or the local token when there is no Origin), JSON bodies and the origin's own token for
// anything that changes state — before it is routed. Origins get on the allow-list only by
// the user's OK on the device (pairing.ts); payments are held to the origin's spending limits
// (services/access-control) before the device is asked. See README.md for the threat model.

import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { TrustStore } from '../../../shared/src/certificate';
import { AccessControl, AccessRequest, Decision } from '../services/access-control';
import { SqliteArchive } from '../services/archive';
import { formatMinorUnits } from '../services/money';
import { PreferenceError, SqlitePreferences, Subject } from '../services/preferences';
import { AgentError, errorBody } from './errors';
import { AgentSecrets, checkHost, checkJsonContentType, requestOrigin } from './guard';
import { Confirmer, Pairing, Pairings } from './pairing';
import { confirmOnDevice, parsePurchaseRequest, Purchase, PurchaseError, PurchaseHandler, PurchaseRequest, Purchases } from './purchases';
import { CheckMemo } from './statement';
import { failStatement, isStatementPath, serveStatement } from './statement-page';
import { acceptKey, isValidKey, ServerSocket } from './websocket';

/** The agent's port unless told otherwise (the emulator has 37137 and 37138). */
export const DEFAULT_PORT = 37139;
/** Clients without an Origin that hold the local token act as this peer in the preferences. */
export const LOCAL_PEER = 'local-client';
/** The owner of purchases made by local-token clients. */
export const LOCAL_OWNER = 'local';
/** The WebSocket subprotocol of /v1/events; the origin's token rides as `semper-token.<token>`. */
export const EVENTS_PROTOCOL = 'semper-events.v1';
export const TOKEN_PROTOCOL_PREFIX = 'semper-token.';
const MAX_BODY = 16 * 1024;
const MAX_WAIT_S = 30;

/** The device as /v1/status reports it: no serial, no secrets. */
export interface DeviceStatus {
  state: string;
  firmware?: string;
  card?: boolean;
}

export interface AgentOptions {
  /** The archive database: preferences (the allow-list, limits), audit and evidence live there. */
  archive: SqliteArchive;
  /** The device, for pairing (and for the default purchase handler). */
  device: Confirmer;
  deviceStatus?: () => DeviceStatus;
  /** The commerce layer's purchase handler; default: confirmOnDevice(device). */
  handler?: PurchaseHandler;
  /** 127.0.0.1 port (default DEFAULT_PORT; 0: any free port). */
  port?: number;
  /** Seconds the device waits for the user when pairing (10…600, default 120). */
  pairingTimeoutSeconds?: number;
  localToken?: string;
  version?: string;
  /** Unexpected failures (never sent to clients). */
  log?: (line: string) => void;
  now?: () => number;
  /** CA roots for the statement page: merchant certificates are validated against them again. */
  trust?: TrustStore;
}

type Who = { origin: string; subject: Subject; owner: string } | { origin: null; subject: Subject; owner: string };

interface Route {
  name: 'status' | 'pair' | 'pairing' | 'purchases' | 'purchase' | 'events';
  id?: string;
  methods: string[];
}

const ID = '([A-Za-z0-9_-]{1,64})';
const ROUTES: [RegExp, Route['name'], string[]][] = [
  [/^\/v1\/status$/, 'status', ['GET']],
  [/^\/v1\/pair$/, 'pair', ['POST']],
  [new RegExp(`^/v1/pair/${ID}$`), 'pairing', ['GET']],
  [/^\/v1\/purchases$/, 'purchases', ['POST']],
  [new RegExp(`^/v1/purchases/${ID}$`), 'purchase', ['GET']],
  [/^\/v1\/events$/, 'events', ['GET']],
];

function route(path: string): Route {
  for (const [re, name, methods] of ROUTES) {
    const m = re.exec(path);
    if (m) return { name, methods, ...(m[1] ? { id: m[1] } : {}) };
  }
  throw new AgentError('NOT_FOUND', `no endpoint ${path.slice(0, 80)}`);
}

/** `?wait=N` (seconds, 0…30) of the long-polling GETs; no other query parameter exists. */
function waitSeconds(query: URLSearchParams): number {
  let wait = 0;
  for (const [k, v] of query) {
    if (k !== 'wait' || !/^\d{1,2}$/.test(v) || Number(v) > MAX_WAIT_S) throw new AgentError('BAD_REQUEST', `the only query parameter is wait=0…${MAX_WAIT_S} (seconds)`);
    wait = Number(v);
  }
  return wait;
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY) return reject(new AgentError('TOO_LARGE', `request bodies are at most ${MAX_BODY} bytes`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (_e) {
        reject(new AgentError('BAD_REQUEST', 'the body is not valid JSON'));
      }
    });
  });
}

export class AgentServer {
  readonly secrets: AgentSecrets;
  readonly purchases: Purchases;
  readonly pairings: Pairings;
  readonly prefs: SqlitePreferences;
  readonly access: AccessControl;
  private readonly handler: PurchaseHandler;
  private readonly server: http.Server;
  private readonly sockets = new Set<ServerSocket>();
  private readonly stopping = new AbortController();
  private boundPort = 0;
  private readonly statementMemo = new CheckMemo();

  constructor(private readonly opts: AgentOptions) {
    this.secrets = new AgentSecrets(opts.localToken ? { localToken: opts.localToken } : {});
    this.prefs = new SqlitePreferences(opts.archive);
    this.access = new AccessControl(opts.archive, opts.now ? { now: opts.now } : {});
    this.purchases = new Purchases(opts.now);
    this.pairings = new Pairings({
      device: opts.device,
      timeoutSeconds: opts.pairingTimeoutSeconds,
      // the allow-list is the origin's `pay` rule: set in one transaction with its archive record
      allow: (origin) => this.prefs.setRule({ kind: 'origin', origin }, 'pay', 'allowed'),
    });
    this.handler = opts.handler ?? confirmOnDevice(opts.device);
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head));
    this.server.on('clientError', (_e, socket) => socket.destroy());
  }

  /** Listens on 127.0.0.1 only: the API is never reachable from another machine. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? DEFAULT_PORT, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as { port: number }).port;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const s of this.sockets) s.close(1001, 'agent stopping');
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** True when `origin` is on the allow-list (its `pay` rule is `allowed`). */
  async isPaired(origin: string): Promise<boolean> {
    return (await this.prefs.approval({ kind: 'origin', origin }, 'pay')) === 'allowed';
  }

  // ---- HTTP ----

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // the statement pages have their own gate and headers, and never CORS (statement-page.ts)
    if (isStatementPath((req.url ?? '').split('?')[0])) {
      return serveStatement(req, res, this.boundPort, { archive: this.opts.archive, memo: this.statementMemo, ...(this.opts.trust ? { trust: this.opts.trust } : {}) }).catch((e: unknown) => failStatement(res, e, this.opts.log));
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    try {
      const who = this.identify(req);
      if (who.origin) this.cors(res, who.origin);
      const url = req.url ?? '';
      if (!url.startsWith('/')) throw new AgentError('BAD_REQUEST', 'request targets are paths');
      const u = new URL(url, 'http://127.0.0.1');
      const r = route(u.pathname);
      const method = req.method ?? '';
      if (method === 'OPTIONS') return this.preflight(req, res, r);
      if (!r.methods.includes(method)) {
        res.setHeader('Allow', r.methods.join(', '));
        throw new AgentError('METHOD_NOT_ALLOWED', `${r.methods.join(', ')} only`);
      }
      if (r.name === 'pair') return await this.pair(req, res, who);
      if (r.name === 'pairing') return await this.pairing(res, who, r.id!, waitSeconds(u.searchParams));
      // everything else: a paired origin (or a local-token client)
      if (who.origin && !(await this.isPaired(who.origin))) throw new AgentError('NOT_PAIRED', `${who.origin} is not paired with this agent: call pair() and confirm on the device`);
      switch (r.name) {
        case 'status':
          waitSeconds(u.searchParams);
          return this.json(res, 200, { agent: { name: 'semper-agent', api: 1, version: this.opts.version ?? '0' }, device: this.opts.deviceStatus?.() ?? { state: 'unknown' }, origin: who.origin, paired: true });
        case 'purchases':
          return await this.startPurchase(req, res, who);
        case 'purchase': {
          const p = await this.purchases.settled(r.id!, who.owner, waitSeconds(u.searchParams) * 1000, this.closedSignal(res));
          if (!p) throw new AgentError('NOT_FOUND', 'no such purchase of this origin');
          return this.json(res, 200, { purchase: p });
        }
        default:
          throw new AgentError('BAD_REQUEST', '/v1/events is a WebSocket (Upgrade: websocket)');
      }
    } catch (e) {
      this.fail(res, e);
    }
  }

  /** Host first, then Origin (exact form) or, for clients without one, the local token. */
  private identify(req: http.IncomingMessage): Who {
    checkHost(req.headersDistinct.host, this.boundPort);
    const origin = requestOrigin(req.headersDistinct.origin);
    if (origin) return { origin, subject: { kind: 'origin', origin }, owner: origin };
    this.secrets.checkLocal(req.headers.authorization);
    return { origin: null, subject: { kind: 'peer', peer: LOCAL_PEER }, owner: LOCAL_OWNER };
  }

  /**
   * CORS lets a well-formed origin READ the agent's answers; it grants nothing by itself:
   * every answer except a pairing's is refused (NOT_PAIRED) to origins off the allow-list,
   * and every state change also needs the origin's token.
   */
  private cors(res: http.ServerResponse, origin: string): void {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
  }

  private preflight(req: http.IncomingMessage, res: http.ServerResponse, r: Route): void {
    if (!req.headers.origin) throw new AgentError('BAD_REQUEST', 'OPTIONS is a CORS preflight: browsers only');
    res.setHeader('Access-Control-Allow-Methods', r.methods.join(', '));
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Semper-Token');
    res.setHeader('Access-Control-Max-Age', '600');
    // Chromium's Private Network Access: a page on a public address asks before reaching loopback
    if (req.headers['access-control-request-private-network'] === 'true') res.setHeader('Access-Control-Allow-Private-Network', 'true');
    res.writeHead(204).end();
  }

  /** POST /v1/pair: paired → the token at once; else a pairing the user decides on the device. */
  private async pair(req: http.IncomingMessage, res: http.ServerResponse, who: Who): Promise<void> {
    if (!who.origin) throw new AgentError('BAD_REQUEST', 'pairing is for web origins; local clients use the local token');
    checkJsonContentType(req.headers['content-type']);
    const body = await readBody(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length) throw new AgentError('BAD_REQUEST', 'the body of POST /v1/pair is {}');
    const approval = await this.prefs.approval(who.subject, 'pay');
    if (approval === 'denied') throw new AgentError('PAIRING_BLOCKED', `your preferences deny ${who.origin}: it cannot ask to pair`);
    if (approval === 'allowed') return this.json(res, 200, { pairing: { origin: who.origin, state: 'paired', token: this.secrets.originToken(who.origin) } });
    return this.json(res, 202, { pairing: this.pairingView(this.pairings.start(who.origin)) });
  }

  private async pairing(res: http.ServerResponse, who: Who, id: string, wait: number): Promise<void> {
    if (!who.origin) throw new AgentError('NOT_FOUND', 'no such pairing');
    const p = await this.pairings.settled(id, who.origin, wait * 1000, this.closedSignal(res));
    if (!p) throw new AgentError('NOT_FOUND', 'no such pairing of this origin');
    return this.json(res, 200, { pairing: this.pairingView(p) });
  }

  private pairingView(p: Pairing): Record<string, unknown> {
    // the token only once the user said OK on the device, and only to this origin
    return { ...p, ...(p.state === 'paired' ? { token: this.secrets.originToken(p.origin) } : {}) };
  }

  /** POST /v1/purchases: JSON, the origin's token, the limits — then the handler, in the background. */
  private async startPurchase(req: http.IncomingMessage, res: http.ServerResponse, who: Who): Promise<void> {
    checkJsonContentType(req.headers['content-type']);
    if (who.origin) this.secrets.checkOriginToken(who.origin, req.headers['x-semper-token'] as string | undefined);
    const request = parsePurchaseRequest(await readBody(req));
    const ask: AccessRequest = { subject: who.subject, op: 'pay', amount: request.amount };
    const decision = await this.access.decide(ask);
    if (decision.outcome === 'denied') throw await this.refusal(who, request, decision);
    const p = this.purchases.create(who.owner, request);
    void this.run(p, who, ask, decision);
    return this.json(res, 202, { purchase: p });
  }

  private async refusal(who: Who, r: PurchaseRequest, d: Decision): Promise<AgentError> {
    const amount = `${formatMinorUnits(r.amount.amount, r.amount.currency)} ${r.amount.currency}`;
    const name = who.origin ?? 'this client';
    if (d.reason !== 'OVER_TRANSACTION_LIMIT' && d.reason !== 'OVER_DAILY_LIMIT') return new AgentError('DENIED', `your preferences do not let ${name} ask for payments`);
    const limit = await this.prefs.limit(who.subject, r.amount.currency);
    const bound = d.reason === 'OVER_TRANSACTION_LIMIT' ? limit?.perTransaction : limit?.perDay;
    const what = d.reason === 'OVER_TRANSACTION_LIMIT' ? 'per purchase' : 'in 24 hours';
    const of = bound === undefined ? '' : ` of ${formatMinorUnits(bound, r.amount.currency)} ${r.amount.currency}`;
    return new AgentError('OVER_LIMIT', `${amount} is over your spending limit for ${name}${of} ${what}; the device was not asked`);
  }

  private async run(p: Purchase, who: Who, ask: AccessRequest, decision: Decision): Promise<void> {
    let completed = false;
    try {
      const result = await this.handler(who.origin ?? LOCAL_OWNER, p.request, (progress) => this.purchases.update(p.id, { progress }), this.stopping.signal);
      if (result?.state !== 'completed' && result?.state !== 'refused') throw new PurchaseError('INTERNAL', 'the purchase handler returned no outcome');
      completed = result.state === 'completed';
      this.purchases.update(p.id, { state: result.state, result });
    } catch (e) {
      if (!(e instanceof PurchaseError)) this.opts.log?.(`purchase ${p.id}: ${e instanceof Error ? e.message : String(e)}`);
      const error = e instanceof PurchaseError ? { code: e.code, message: e.message } : { code: 'INTERNAL', message: 'the purchase failed inside the agent' };
      this.purchases.update(p.id, { state: 'failed', error });
    }
    // the user was asked (on the device): their answer is recorded, and a yes counts toward the limits
    if (decision.outcome === 'ask') await this.access.recordAnswer(ask, completed).catch((e: unknown) => this.opts.log?.(`recording the answer for purchase ${p.id}: ${String(e)}`));
  }

  /** Aborts when the client goes away, so a long poll does not outlive its request. */
  private closedSignal(res: http.ServerResponse): AbortSignal {
    const c = new AbortController();
    res.once('close', () => c.abort());
    return c.signal;
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) }).end(text);
  }

  private fail(res: http.ServerResponse, e: unknown): void {
    let err: AgentError;
    if (e instanceof AgentError) err = e;
    else if (e instanceof PreferenceError) err = new AgentError('BAD_REQUEST', e.message);
    else {
      this.opts.log?.(`internal error: ${e instanceof Error ? e.message : String(e)}`);
      err = new AgentError('INTERNAL', 'internal error in the agent');
    }
    if (res.headersSent) return void res.end();
    this.json(res, err.status, errorBody(err.code, err.message));
  }

  // ---- WebSocket /v1/events ----

  private async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    let who: Who;
    let protocols: string[];
    try {
      who = this.identify(req);
      if ((req.url ?? '').split('?')[0] !== '/v1/events') throw new AgentError('NOT_FOUND', 'the only WebSocket is /v1/events');
      protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (who.origin) {
        if (!(await this.isPaired(who.origin))) throw new AgentError('NOT_PAIRED', `${who.origin} is not paired with this agent`);
        if (!protocols.includes(EVENTS_PROTOCOL)) throw new AgentError('BAD_REQUEST', `offer the subprotocol ${EVENTS_PROTOCOL}`);
        const token = protocols.find((s) => s.startsWith(TOKEN_PROTOCOL_PREFIX));
        this.secrets.checkOriginToken(who.origin, token?.slice(TOKEN_PROTOCOL_PREFIX.length));
      }
      const key = req.headers['sec-websocket-key'];
      if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || req.headers['sec-websocket-version'] !== '13' || !isValidKey(key)) {
        throw new AgentError('BAD_REQUEST', 'not a WebSocket version 13 opening handshake');
      }
      const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptKey(key)}`];
      if (protocols.includes(EVENTS_PROTOCOL)) lines.push(`Sec-WebSocket-Protocol: ${EVENTS_PROTOCOL}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
    } catch (e) {
      const err = e instanceof AgentError ? e : new AgentError('INTERNAL', 'internal error in the agent');
      const body = JSON.stringify(errorBody(err.code, err.message));
      socket.end(`HTTP/1.1 ${err.status} ${http.STATUS_CODES[err.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    if (head.length) socket.unshift(head);
    const ws = new ServerSocket(socket);
    this.sockets.add(ws);
    // only this origin's own purchases
    const forward = (p: Purchase): void => {
      if (p.origin === who.owner) ws.send(JSON.stringify({ type: 'purchase', purchase: p }));
    };
    this.purchases.on('update', forward);
    ws.onClose(() => {
      this.sockets.delete(ws);
      this.purchases.off('update', forward);
    });
    ws.send(JSON.stringify({ type: 'ready', origin: who.origin }));
  }
}
