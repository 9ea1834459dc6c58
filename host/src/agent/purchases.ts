// Purchases started by web pages through the agent. The agent checks who asks and whether
// the origin's limits allow the amount; what a purchase then IS — deal, offer, order, payment,
// receipt — is the commerce layer's, plugged in as a PurchaseHandler. Until that layer exists
// the agent ships `confirmOnDevice`: the device shows the offer as a PAYMENT statement and the
// user's OK or Cancel is the outcome, so the path page → agent → device works end to end.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Money, Progress, Statement, UserCallOptions } from '../device/client';
import { DeviceError } from '../link/device-link';
import { currencyExponent } from '../services/money';
import { AgentError } from './errors';

/** What a page asks for: the merchant's offer (its URL or reference) and the amount. */
export interface PurchaseRequest {
  /** The merchant's offer: a URL (https://shop.example/offers/42) or an opaque reference, 1…512 characters. */
  offer: string;
  /** Integer minor units and an ISO 4217 code: 12.50 EUR is {amount: 1250, currency: 'EUR'}. */
  amount: Money;
  /** Who is paid, as the page names it (1…64 characters; shown on the device as unverified). */
  payee?: string;
  /** The order or invoice reference (1…40 characters). */
  reference?: string;
  /** A headline for the device (1…64 characters; default "Purchase"). */
  title?: string;
}

/** One progress report of a purchase, for the page's status bar. */
export interface PurchaseProgress {
  /** Steps done so far and in all; the label says what happens now. */
  step: number;
  steps: number;
  label: string;
  /** The device waits for the person at it (not a hang). */
  waitingForUser: boolean;
}

/** How a handler ends a purchase it could carry out: done, or the user said no. */
export interface PurchaseResult {
  state: 'completed' | 'refused';
  /** One sentence for the page ("Paid 12.50 EUR to CD-ROM Versand"). */
  message: string;
  /** What the commerce layer wants the page to have (receipt id, deal id…): JSON values only. */
  details?: Record<string, JsonValue>;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/**
 * The commerce layer's entry point. `origin` is the paired origin that asked (already
 * checked: allow-list, token, spending limits), or `local` for a client with the local token; `progress` reports steps to that origin's
 * pages; `signal` aborts when the agent stops. Throw `PurchaseError` for a failure the page
 * should see by code; anything else is reported as INTERNAL without its message.
 */
export type PurchaseHandler = (origin: string, request: PurchaseRequest, progress: (p: PurchaseProgress) => void, signal: AbortSignal) => Promise<PurchaseResult>;

export class PurchaseError extends Error {
  override readonly name = 'PurchaseError';
  constructor(
    /** Upper-case code, e.g. a device error (USER_TIMEOUT, UNDISPLAYABLE) or the commerce layer's own. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type PurchaseState = 'pending' | 'completed' | 'refused' | 'failed';

/** A purchase as its origin sees it (GET /v1/purchases/{id}, events). */
export interface Purchase {
  id: string;
  origin: string;
  state: PurchaseState;
  request: PurchaseRequest;
  progress?: PurchaseProgress;
  result?: PurchaseResult;
  error?: { code: string; message: string };
  created: number;
  updated: number;
}

// ---- the request body, checked field by field (outside input) ----

const FIELDS = ['offer', 'amount', 'payee', 'reference', 'title'];

function text(v: unknown, field: string, max: number): string {
  // no control characters: the device would refuse them (UNDISPLAYABLE) after the user waited
  if (typeof v !== 'string' || v.length === 0 || v.length > max || [...v].some((c) => c < ' ' || (c >= '\u007f' && c <= '\u009f'))) {
    throw new AgentError('BAD_REQUEST', `${field} must be text of 1-${max} characters without control characters`);
  }
  return v;
}

/** The body of POST /v1/purchases, checked; unknown fields are refused, not ignored. */
export function parsePurchaseRequest(body: unknown): PurchaseRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AgentError('BAD_REQUEST', 'the body is a JSON object {offer, amount, payee?, reference?, title?}');
  const b = body as Record<string, unknown>;
  const extra = Object.keys(b).filter((k) => !FIELDS.includes(k));
  if (extra.length) throw new AgentError('BAD_REQUEST', `unknown field ${JSON.stringify(extra[0])}: the body is {offer, amount, payee?, reference?, title?}`);
  const a = b.amount as Record<string, unknown> | undefined;
  if (typeof a !== 'object' || a === null || Array.isArray(a) || Object.keys(a).some((k) => k !== 'amount' && k !== 'currency')) {
    throw new AgentError('BAD_REQUEST', 'amount is {amount: minor units, currency: ISO 4217 code}, e.g. {"amount": 1250, "currency": "EUR"} for 12.50 EUR');
  }
  if (!Number.isSafeInteger(a.amount) || (a.amount as number) <= 0) throw new AgentError('BAD_REQUEST', 'amount.amount is a positive whole number of minor units (cents), never a decimal');
  if (typeof a.currency !== 'string' || !/^[A-Z]{3}$/.test(a.currency) || currencyExponent(a.currency) === undefined) {
    throw new AgentError('BAD_REQUEST', 'amount.currency is a known ISO 4217 code such as EUR');
  }
  const r: PurchaseRequest = { offer: text(b.offer, 'offer', 512), amount: { amount: a.amount as number, currency: a.currency } };
  if (b.payee !== undefined) r.payee = text(b.payee, 'payee', 64);
  if (b.reference !== undefined) r.reference = text(b.reference, 'reference', 40);
  if (b.title !== undefined) r.title = text(b.title, 'title', 64);
  return r;
}

// ---- the handler the agent ships: the user confirms the offer on the device ----

/** What confirmOnDevice needs of the device: CONFIRM with progress (DeviceClient fits). */
export interface PurchaseConfirmer {
  confirm(statement: Statement, opts?: UserCallOptions): Promise<void>;
}

/** The PAYMENT statement of a purchase: what the device shows before the user decides. */
export function purchaseStatement(origin: string, r: PurchaseRequest): Statement {
  // `origin` is a web origin, or LOCAL_OWNER for a local-token client (no origin to show)
  const web = /^https?:\/\//.test(origin) ? origin : undefined;
  return {
    kind: 1,
    title: r.title ?? 'Purchase',
    amount: r.amount,
    // a PAYMENT names who is paid; without a verified offer the device marks it unverified
    payee: r.payee ?? (web ? new URL(web).host.slice(0, 64) : 'a local application'),
    ...(r.reference !== undefined ? { reference: r.reference } : {}),
    text: `Offer: ${r.offer}`.slice(0, 512),
    ...(web ? { origin: web } : {}),
  };
}

/**
 * The purchase handler until the commerce layer plugs in its own: the device shows the
 * offer's PAYMENT statement; OK completes the purchase, Cancel refuses it. Nothing is paid —
 * CONFIRM signs and debits nothing — which the result says.
 */
export function confirmOnDevice(device: PurchaseConfirmer, opts: { timeoutSeconds?: number } = {}): PurchaseHandler {
  return async (origin, request, progress, signal) => {
    const statement = purchaseStatement(origin, request);
    progress({ step: 1, steps: 2, label: 'Confirm the purchase on your device', waitingForUser: false });
    try {
      await device.confirm(statement, {
        signal,
        timeout: opts.timeoutSeconds ?? 120,
        onProgress: (p: Progress) => progress({ step: 1, steps: 2, label: p.waitingForUser ? 'Waiting for you on the device' : 'Device working', waitingForUser: p.waitingForUser }),
      });
    } catch (e) {
      if (e instanceof DeviceError && e.code === 'USER_REFUSED') return { state: 'refused', message: 'You declined the purchase on the device' };
      if (e instanceof DeviceError) throw new PurchaseError(e.code, e.message);
      throw e;
    }
    progress({ step: 2, steps: 2, label: 'Confirmed on the device', waitingForUser: false });
    return { state: 'completed', message: 'Confirmed on the device (nothing paid: no payment module is plugged in yet)', details: { confirmed: true } };
  };
}

// ---- the purchases of this run ----

/** How long a settled purchase can still be read by its page. */
const KEEP_SETTLED = 60 * 60_000;

/**
 * The purchases of this run, by id. Each belongs to its origin (or `local` for clients with
 * the local token): others get NOT_FOUND, never a hint that it exists. Emits `update` with
 * the purchase after every change.
 */
export class Purchases extends EventEmitter {
  private readonly all = new Map<string, Purchase>();

  constructor(private readonly now: () => number = Date.now) {
    super();
    this.setMaxListeners(0);
  }

  create(origin: string, request: PurchaseRequest): Purchase {
    const t = this.now();
    const p: Purchase = { id: randomBytes(12).toString('base64url'), origin, state: 'pending', request, created: t, updated: t };
    this.all.set(p.id, p);
    this.emit('update', structuredClone(p));
    return structuredClone(p);
  }

  get(id: string, origin: string): Purchase | undefined {
    const p = this.all.get(id);
    return p && p.origin === origin ? structuredClone(p) : undefined;
  }

  /** How many purchases this run holds (tests compare it before and after). */
  get size(): number {
    return this.all.size;
  }

  update(id: string, change: Partial<Pick<Purchase, 'state' | 'progress' | 'result' | 'error'>>): void {
    const p = this.all.get(id);
    if (!p) return;
    Object.assign(p, change, { updated: this.now() });
    this.emit('update', structuredClone(p));
    if (p.state !== 'pending') setTimeout(() => this.all.delete(id), KEEP_SETTLED).unref();
  }

  /** Resolves when `id` is no longer pending or after `ms`, with its state then. */
  async settled(id: string, origin: string, ms: number, signal?: AbortSignal): Promise<Purchase | undefined> {
    const p = this.get(id, origin);
    if (!p || p.state !== 'pending') return p;
    await new Promise<void>((resolve) => {
      const on = (q: Purchase): void => void (q.id === id && q.state !== 'pending' && done());
      const done = (): void => {
        clearTimeout(timer);
        this.off('update', on);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.on('update', on);
      signal?.addEventListener('abort', done);
    });
    return this.get(id, origin);
  }
}
