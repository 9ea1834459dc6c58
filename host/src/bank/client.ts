// A typed HTTP client of the bank (API.md). Implements the payment manager's SettlementPort.
// Every state-changing call takes a request id: retrying with the same id after a timeout or
// a crash is safe (the bank answers what it answered the first time).

import { randomUUID } from 'node:crypto';
import { SettlementPort } from '../payment/manager';
import { Account, b64 } from './bank';
import { BankError, BankErrorCode, BankErrorDetail } from './errors';

export class BankClient implements SettlementPort {
  constructor(
    readonly url: string,
    private readonly o: { adminToken?: string } = {},
  ) {}

  private async call<T>(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>, admin = false): Promise<T> {
    const headers: Record<string, string> = {};
    if (body) headers['content-type'] = 'application/json';
    if (admin && this.o.adminToken) headers.authorization = `Bearer ${this.o.adminToken}`;
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

  issuer(): Promise<{ publicKey: string }> {
    return this.call('GET', '/v1/issuer');
  }

  async account(id: string): Promise<Account> {
    return (await this.call<{ account: Account }>('GET', `/v1/accounts/${encodeURIComponent(id)}`)).account;
  }

  async openAccount(a: { id: string; kind: 'buyer' | 'merchant'; name: string; currency: string; publicKey?: Uint8Array }, requestId = BankClient.requestId()): Promise<Account> {
    const body: Record<string, unknown> = { requestId, id: a.id, kind: a.kind, name: a.name, currency: a.currency };
    if (a.publicKey) body.publicKey = b64(a.publicKey);
    return (await this.call<{ account: Account }>('POST', '/v1/accounts', body, true)).account;
  }

  fund(id: string, amount: number, requestId = BankClient.requestId()): Promise<{ balance: number; entry: number }> {
    return this.call('POST', `/v1/accounts/${encodeURIComponent(id)}/fund`, { requestId, amount }, true);
  }

  deposit(r: { requestId: string; merchant: string; token: Uint8Array; cardCertificate: Uint8Array; intermediates?: Uint8Array[] }): Promise<{ balance: number; entry: number; deposit: { cardId: string; counter: number; amount: number; currency: string } }> {
    const body: Record<string, unknown> = { requestId: r.requestId, merchant: r.merchant, token: b64(r.token), cardCertificate: b64(r.cardCertificate) };
    if (r.intermediates?.length) body.intermediates = r.intermediates.map(b64);
    return this.call('POST', '/v1/deposits', body);
  }

  settleOrder(r: { requestId: string; order: Uint8Array }): Promise<{ balance: number; entry: number }> {
    return this.call('POST', '/v1/payments', { requestId: r.requestId, order: b64(r.order) });
  }

  async load(r: { requestId: string; request: Uint8Array }): Promise<{ instruction: Uint8Array; loadCounter: number; balance: number; entry: number }> {
    const a = await this.call<{ instruction: string; loadCounter: number; balance: number; entry: number }>('POST', '/v1/loads', { requestId: r.requestId, request: b64(r.request) });
    return { ...a, instruction: new Uint8Array(Buffer.from(a.instruction, 'base64url')) };
  }

  audit(): Promise<{ ok: boolean; totals: Record<string, number>; problems: string[] }> {
    return this.call('GET', '/v1/audit', undefined, true);
  }

  async refusals(): Promise<{ time: number; code: string; requestId: string; evidence: unknown }[]> {
    return (await this.call<{ refusals: { time: number; code: string; requestId: string; evidence: unknown }[] }>('GET', '/v1/refusals', undefined, true)).refusals;
  }
}
