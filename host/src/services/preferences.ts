// Preferences (SEMPER §3.2 "setting preferences"): which web origins and which peers may ask
// the host agent for what, and per-origin spending limits. Persisted beside the archive (same
// SQLite file, same connection); every change is archived as a `preference-change` record in
// the same transaction, so the history of the rules is as tamper-evident as the evidence.
//
// Subjects: a web origin (`https://shop.example`, normalised by the WHATWG URL rules, then
// compared exactly) or a peer (an opaque id such as a certificate subject id).
// Approval per (subject, operation): unknown (ask the user) | allowed | denied.

import { encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { SqliteArchive } from './archive';
import { currencyExponent, isMinorUnits } from './money';
import { immediate, mapSqliteError } from './sqlite';

export const OPERATIONS = ['pay', 'sign', 'read-balance', 'read-log'] as const;
export type Operation = (typeof OPERATIONS)[number];

export type Subject = { kind: 'origin'; origin: string } | { kind: 'peer'; peer: string };
export type RuleState = 'allowed' | 'denied';
export type Approval = RuleState | 'unknown';

export type PreferenceErrorCode =
  | 'BAD_ORIGIN' // not an http(s) origin: path, query, credentials, opaque (`null`), other scheme
  | 'BAD_INPUT'; // unknown operation or state, bad peer id, money not an integer, unknown currency

export class PreferenceError extends Error {
  override readonly name = 'PreferenceError';
  constructor(
    readonly code: PreferenceErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function fail(code: PreferenceErrorCode, msg: string): never {
  throw new PreferenceError(code, msg);
}

/**
 * The ASCII serialisation of an http(s) origin (WHATWG URL): scheme and host lower-cased,
 * IDNs in punycode, the default port dropped — `HTTPS://Shop.Example:443` → `https://shop.example`.
 * Anything that is more than an origin (a path, a query, a fragment, user info) is refused,
 * as are opaque origins (`null`, `file:`, `data:`).
 */
export function normaliseOrigin(input: string): string {
  if (typeof input !== 'string' || input.length === 0 || input.length > 2048) fail('BAD_ORIGIN', 'an origin is a non-empty string');
  let u: URL;
  try {
    u = new URL(input);
  } catch (_e) {
    return fail('BAD_ORIGIN', `${JSON.stringify(input)} is not a URL origin such as https://shop.example`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') fail('BAD_ORIGIN', `origins must be http or https, not ${u.protocol}`);
  if (u.username || u.password || u.search || u.hash || u.pathname !== '/' || /[?#]/.test(input)) fail('BAD_ORIGIN', `${JSON.stringify(input)} has more than scheme, host and port`);
  // "https://a.example/" is the same origin; "https://a.example/." or "/x" is not an origin string
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]+\/?$/i.test(input)) fail('BAD_ORIGIN', `${JSON.stringify(input)} has more than scheme, host and port`);
  return u.origin;
}

const PEER_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The key a subject is stored under: `origin:<normalised origin>` or `peer:<id>`. */
export function subjectKey(s: Subject): string {
  if (s?.kind === 'origin') return `origin:${normaliseOrigin(s.origin)}`;
  if (s?.kind === 'peer') {
    if (typeof s.peer !== 'string' || !PEER_ID.test(s.peer)) fail('BAD_INPUT', 'a peer id is 1-128 characters of A-Z a-z 0-9 . _ : -');
    return `peer:${s.peer}`;
  }
  return fail('BAD_INPUT', 'a subject is {kind: "origin", origin} or {kind: "peer", peer}');
}

export function checkOperation(op: unknown): Operation {
  if (!OPERATIONS.includes(op as Operation)) fail('BAD_INPUT', `operation must be one of ${OPERATIONS.join(', ')}`);
  return op as Operation;
}

export function checkCurrency(c: unknown): string {
  if (typeof c !== 'string' || currencyExponent(c) === undefined) fail('BAD_INPUT', `currency ${String(c)} is not a known ISO 4217 code`);
  return c;
}

/** Limits for one currency, in minor units; an absent bound is no bound. */
export interface SpendingLimit {
  currency: string;
  perTransaction?: number;
  /** Over any rolling 24 hours. */
  perDay?: number;
}

export interface RuleEntry {
  subject: string;
  op: Operation;
  state: RuleState;
}

/** The preference store as the layers above see it. */
export interface PreferenceStore {
  approval(subject: Subject, op: Operation): Promise<Approval>;
  /** Sets a rule; 'unknown' removes it (the user will be asked again). */
  setRule(subject: Subject, op: Operation, state: Approval): Promise<void>;
  rules(): Promise<RuleEntry[]>;
  limit(subject: Subject, currency: string): Promise<SpendingLimit | undefined>;
  /** Sets the limits of one currency; with neither bound the entry is removed. */
  setLimit(subject: Subject, limit: SpendingLimit): Promise<void>;
}

interface LimitRow {
  per_transaction: number | null;
  per_day: number | null;
}

/** Preferences in the archive's SQLite database. Reads also work inside a caller's transaction. */
export class SqlitePreferences implements PreferenceStore {
  constructor(private readonly archive: SqliteArchive) {}

  async approval(subject: Subject, op: Operation): Promise<Approval> {
    return this.approvalSync(subjectKey(subject), checkOperation(op));
  }

  /** Synchronous read for use inside an open transaction (access control). */
  approvalSync(key: string, op: Operation): Approval {
    try {
      const state = this.archive.db.prepare('SELECT state FROM rules WHERE subject = ? AND op = ?').pluck().get(key, op) as RuleState | undefined;
      return state ?? 'unknown';
    } catch (e) {
      return mapSqliteError(e);
    }
  }

  /** Synchronous read for use inside an open transaction (access control). */
  limitSync(key: string, currency: string): SpendingLimit | undefined {
    try {
      const r = this.archive.db.prepare('SELECT per_transaction, per_day FROM limits WHERE subject = ? AND currency = ?').get(key, currency) as LimitRow | undefined;
      if (!r) return undefined;
      const out: SpendingLimit = { currency };
      if (r.per_transaction !== null) out.perTransaction = r.per_transaction;
      if (r.per_day !== null) out.perDay = r.per_day;
      return out;
    } catch (e) {
      return mapSqliteError(e);
    }
  }

  async setRule(subject: Subject, op: Operation, state: Approval): Promise<void> {
    const key = subjectKey(subject);
    checkOperation(op);
    if (state !== 'allowed' && state !== 'denied' && state !== 'unknown') fail('BAD_INPUT', 'state must be allowed, denied or unknown');
    immediate(this.archive.db, () => this.setRuleInTransaction(key, op, state));
  }

  /** setRule inside the caller's open transaction, with a checked subject key. */
  setRuleInTransaction(key: string, op: Operation, state: Approval): void {
    const db = this.archive.db;
    if (state === 'unknown') db.prepare('DELETE FROM rules WHERE subject = ? AND op = ?').run(key, op);
    else db.prepare('INSERT INTO rules (subject, op, state) VALUES (?, ?, ?) ON CONFLICT (subject, op) DO UPDATE SET state = excluded.state').run(key, op, state);
    this.archiveChange(key, `rule ${op} ${state}`, ['rule', op, state]);
  }

  async rules(): Promise<RuleEntry[]> {
    try {
      return this.archive.db.prepare('SELECT subject, op, state FROM rules ORDER BY subject, op').all() as RuleEntry[];
    } catch (e) {
      return mapSqliteError(e);
    }
  }

  async limit(subject: Subject, currency: string): Promise<SpendingLimit | undefined> {
    return this.limitSync(subjectKey(subject), checkCurrency(currency));
  }

  async setLimit(subject: Subject, limit: SpendingLimit): Promise<void> {
    const key = subjectKey(subject);
    const currency = checkCurrency(limit?.currency);
    const bound = (v: unknown, what: string): number | null => {
      if (v === undefined) return null;
      if (!isMinorUnits(v) || v < 0) fail('BAD_INPUT', `${what} must be a non-negative integer number of minor units`);
      return v;
    };
    const perTx = bound(limit.perTransaction, 'perTransaction');
    const perDay = bound(limit.perDay, 'perDay');
    const db = this.archive.db;
    immediate(db, () => {
      if (perTx === null && perDay === null) db.prepare('DELETE FROM limits WHERE subject = ? AND currency = ?').run(key, currency);
      else
        db.prepare(
          'INSERT INTO limits (subject, currency, per_transaction, per_day) VALUES (?, ?, ?, ?) ON CONFLICT (subject, currency) DO UPDATE SET per_transaction = excluded.per_transaction, per_day = excluded.per_day',
        ).run(key, currency, perTx, perDay);
      this.archiveChange(key, `limit ${currency}`, ['limit', currency, perTx, perDay]);
    });
  }

  private archiveChange(key: string, label: string, what: HostCbor[]): void {
    this.archive.appendInTransaction({ kind: 'preference-change', counterparty: key, label, evidence: encodeCanonical(what) });
  }
}
