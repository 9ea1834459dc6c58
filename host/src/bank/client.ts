// A typed HTTP client of the bank (API.md). Implements the payment manager's SettlementPort.
// Every state-changing call takes a request id: retrying with the same id after a timeout or
// a crash is safe (the bank answers what it answered the first time). Every receipt and
// status statement is verified with the bank key — pinned by the caller (`bankKey`), or else
// fetched once from GET /v1/bank (trust on first use) — before its answer is returned.

import { randomUUID } from 'node:crypto';
import { BankReceipt, PaymentError, PaymentReference, PaymentStatus, ReceiptOp, referenceKey, signRead, verifyBankReceipt, verifyPaymentStatus } from '../payment/formats';
import { SettlementPort } from '../payment/manager';
import { Account, b64 } from './bank';
import { BankError, BankErrorCode, BankErrorDetail } from './errors';

export interface BankClientOptions {
  adminToken?: string;
  /** The bank key (SEC1) receipts and status statements must verify with; fetched from GET /v1/bank if absent. */
  bankKey?: Uint8Array;
  /** Clock for signed reads, seconds (default: system time). */
  now?: () => number;
}

export interface BankInfo {
  issuerName: string;
  /** The bank key (receipts, status statements). */
  publicKey: Uint8Array;
  kid: string;
  issuerPublicKey: Uint8Array;
}

export type ReferenceJson = { cardId: string; counter: number } | { orderId: string };

export interface RefundAnswer {
  refund: { refundId: string; reference: ReferenceJson; amount: number; currency: string; payer: string; payee: string; refunded: number; authorisedBy: 'payee' | 'ttp' };
  /** The payer's balance after the refund. */
  balance: number;
  entry: number;
  receipt: Uint8Array;
  /** The receipt, verified and decoded. */
  verified: BankReceipt;
}

const fromB64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64url'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export class BankClient implements SettlementPort {
  private pinned?: Uint8Array;

  constructor(
    readonly url: string,
    private readonly o: BankClientOptions = {},
  ) {
    this.pinned = o.bankKey;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>, auth?: 'admin' | string): Promise<T> {
    const headers: Record<string, string> = {};
    if (body) headers['content-type'] = 'application/json';
    if (auth === 'admin' && this.o.adminToken) headers.authorization = `Bearer ${this.o.adminToken}`;
    else if (auth && auth !== 'admin') headers.authorization = auth;
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    } catch (e) {
      throw new BankError('UNREACHABLE', `the bank did not answer: ${(e as Error).message}`);
    }
    const v = (await res.json().catch(() => ({}))) as { error?: { code: BankErrorCode; message: string; detail?: BankErrorDetail } };
    if (res.status !== 200) {
      const err = v.error;
      throw new BankError(err?.code ?? 'INTERNAL', err?.message ?? `HTTP ${res.status}`, err?.detail);
    }
    return v as T;
  }

  static requestId(): string {
    return randomUUID();
  }

  issuer(): Promise<{ publicKey: string; bankKey: string }> {
    return this.call('GET', '/v1/issuer');
  }

  async bank(): Promise<BankInfo> {
    const a = await this.call<{ issuerName: string; publicKey: string; kid: string; issuerPublicKey: string }>('GET', '/v1/bank');
    return { issuerName: a.issuerName, publicKey: fromB64(a.publicKey), kid: a.kid, issuerPublicKey: fromB64(a.issuerPublicKey) };
  }

  /** The bank key receipts must verify with: the pinned one, or the bank's answer the first time. */
  async bankKey(): Promise<Uint8Array> {
    if (!this.pinned) this.pinned = (await this.bank()).publicKey;
    return this.pinned;
  }

  /** Verifies a receipt with the bank key and that it says what the answer says. BankError BAD_RECEIPT. */
  private async checkReceipt(receipt: unknown, want: { op: ReceiptOp; reference: PaymentReference; amount: number; currency: string; entry: number; credit?: string }): Promise<{ receipt: Uint8Array; verified: BankReceipt }> {
    if (typeof receipt !== 'string') throw new BankError('BAD_RECEIPT', 'the answer carries no receipt');
    const bytes = fromB64(receipt);
    let r: BankReceipt;
    try {
      r = verifyBankReceipt(bytes, await this.bankKey());
    } catch (e) {
      if (e instanceof PaymentError) throw new BankError('BAD_RECEIPT', `the receipt does not verify with the bank key: ${e.message}`, e.code);
      throw e;
    }
    const same = r.op === want.op && referenceKey(r.reference) === referenceKey(want.reference) && r.amount === want.amount && r.currency === want.currency && r.entry === want.entry && (want.credit === undefined || r.credit === want.credit);
    if (!same) throw new BankError('BAD_RECEIPT', 'the receipt says something else than the answer');
    return { receipt: bytes, verified: r };
  }

  /** GET /v1/accounts/{id}: with the admin token, or signed by the account's own key (`signingKey`). */
  async account(id: string, signingKey?: Uint8Array): Promise<Account> {
    const path = `/v1/accounts/${encodeURIComponent(id)}`;
    const auth = signingKey ? `SEMPER-Signed ${b64(signRead(`/v1/accounts/${id}`, Math.floor(this.o.now?.() ?? Date.now() / 1000), signingKey))}` : 'admin';
    return (await this.call<{ account: Account }>('GET', path, undefined, auth)).account;
  }

  async openAccount(a: { id: string; kind: 'buyer' | 'merchant'; name: string; currency: string; publicKey?: Uint8Array }, requestId = BankClient.requestId()): Promise<Account> {
    const body: Record<string, unknown> = { requestId, id: a.id, kind: a.kind, name: a.name, currency: a.currency };
    if (a.publicKey) body.publicKey = b64(a.publicKey);
    return (await this.call<{ account: Account }>('POST', '/v1/accounts', body, 'admin')).account;
  }

  fund(id: string, amount: number, requestId = BankClient.requestId()): Promise<{ balance: number; entry: number }> {
    return this.call('POST', `/v1/accounts/${encodeURIComponent(id)}/fund`, { requestId, amount }, 'admin');
  }

  /** POST /v1/accounts/{id}/cards (admin): registers a buyer's card for card-signed payments and refunds. */
  async registerCard(id: string, cardCertificate: Uint8Array, intermediates: Uint8Array[] = [], requestId = BankClient.requestId()): Promise<{ cardId: string; account: string }> {
    const body: Record<string, unknown> = { requestId, cardCertificate: b64(cardCertificate) };
    if (intermediates.length) body.intermediates = intermediates.map(b64);
    return (await this.call<{ card: { cardId: string; account: string } }>('POST', `/v1/accounts/${encodeURIComponent(id)}/cards`, body, 'admin')).card;
  }

  async deposit(r: { requestId: string; merchant: string; token: Uint8Array; cardCertificate: Uint8Array; intermediates?: Uint8Array[] }): Promise<{ balance: number; entry: number; deposit: { cardId: string; counter: number; amount: number; currency: string }; receipt: Uint8Array; verified: BankReceipt }> {
    const body: Record<string, unknown> = { requestId: r.requestId, merchant: r.merchant, token: b64(r.token), cardCertificate: b64(r.cardCertificate) };
    if (r.intermediates?.length) body.intermediates = r.intermediates.map(b64);
    const a = await this.call<{ balance: number; entry: number; deposit: { cardId: string; counter: number; amount: number; currency: string }; receipt: string }>('POST', '/v1/deposits', body);
    const d = a.deposit;
    const rc = await this.checkReceipt(a.receipt, { op: 'deposit', reference: { cardId: new Uint8Array(Buffer.from(d.cardId, 'hex')), counter: d.counter }, amount: d.amount, currency: d.currency, entry: a.entry, credit: r.merchant });
    return { ...a, ...rc };
  }

  /** POST /v1/payments: an order signed by the payer's key (`order`, account/1) or by its card (`cardOrder`, account-card/1). */
  async settleOrder(r: { requestId: string; order?: Uint8Array; cardOrder?: Uint8Array }): Promise<{ balance: number; entry: number; payment: { orderId: string; payer: string; payee: string; amount: number; currency: string }; receipt: Uint8Array; verified: BankReceipt }> {
    const body: Record<string, unknown> = { requestId: r.requestId };
    if (r.order) body.order = b64(r.order);
    if (r.cardOrder) body.cardOrder = b64(r.cardOrder);
    const a = await this.call<{ balance: number; entry: number; payment: { orderId: string; payer: string; payee: string; amount: number; currency: string }; receipt: string }>('POST', '/v1/payments', body);
    const p = a.payment;
    const rc = await this.checkReceipt(a.receipt, { op: 'payment', reference: { orderId: p.orderId }, amount: p.amount, currency: p.currency, entry: a.entry, credit: p.payee });
    return { ...a, ...rc };
  }

  /** POST /v1/refunds: a refund authorisation signed by the payee or a TTP (`ttpCertificate`: its role-ttp certificate, if the bank is not configured with its key). */
  async refund(r: { requestId: string; refund: Uint8Array; ttpCertificate?: Uint8Array; intermediates?: Uint8Array[] }): Promise<RefundAnswer> {
    const body: Record<string, unknown> = { requestId: r.requestId, refund: b64(r.refund) };
    if (r.ttpCertificate) body.ttpCertificate = b64(r.ttpCertificate);
    if (r.intermediates?.length) body.intermediates = r.intermediates.map(b64);
    const a = await this.call<Omit<RefundAnswer, 'receipt' | 'verified'> & { receipt: string }>('POST', '/v1/refunds', body);
    const ref = a.refund.reference;
    const reference: PaymentReference = 'orderId' in ref ? { orderId: ref.orderId } : { cardId: new Uint8Array(Buffer.from(ref.cardId, 'hex')), counter: ref.counter };
    const rc = await this.checkReceipt(a.receipt, { op: 'refund', reference, amount: a.refund.amount, currency: a.refund.currency, entry: a.entry, credit: a.refund.payer });
    if (rc.verified.refundId !== a.refund.refundId) throw new BankError('BAD_RECEIPT', 'the receipt names another refund');
    return { ...a, ...rc };
  }

  /**
   * GET /v1/payments/status: the bank-signed statement about a payment, verified with the bank
   * key, for this reference and (if given) this nonce. BankError BAD_RECEIPT if not.
   */
  async paymentStatus(reference: PaymentReference, nonce?: Uint8Array): Promise<{ statement: Uint8Array; status: PaymentStatus }> {
    const q = new URLSearchParams('orderId' in reference ? { order: reference.orderId } : { card: toHex(reference.cardId), counter: String(reference.counter) });
    if (nonce) q.set('nonce', toHex(nonce));
    const a = await this.call<{ status: string }>('GET', `/v1/payments/status?${q.toString()}`);
    const statement = fromB64(a.status);
    let status: PaymentStatus;
    try {
      status = verifyPaymentStatus(statement, await this.bankKey());
    } catch (e) {
      if (e instanceof PaymentError) throw new BankError('BAD_RECEIPT', `the status statement does not verify with the bank key: ${e.message}`, e.code);
      throw e;
    }
    if (referenceKey(status.reference) !== referenceKey(reference) || (nonce && (!status.nonce || toHex(status.nonce) !== toHex(nonce)))) throw new BankError('BAD_RECEIPT', 'the status statement is about another payment or another query');
    return { statement, status };
  }

  async load(r: { requestId: string; request: Uint8Array }): Promise<{ instruction: Uint8Array; loadCounter: number; balance: number; entry: number }> {
    const a = await this.call<{ instruction: string; loadCounter: number; balance: number; entry: number }>('POST', '/v1/loads', { requestId: r.requestId, request: b64(r.request) });
    return { ...a, instruction: fromB64(a.instruction) };
  }

  audit(): Promise<{ ok: boolean; totals: Record<string, number>; problems: string[] }> {
    return this.call('GET', '/v1/audit', undefined, 'admin');
  }

  async refusals(): Promise<{ time: number; code: string; requestId: string; evidence: unknown }[]> {
    return (await this.call<{ refusals: { time: number; code: string; requestId: string; evidence: unknown }[] }>('GET', '/v1/refusals', undefined, 'admin')).refusals;
  }
}
