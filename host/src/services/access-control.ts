// Access control (SEMPER §3.2): decides whether an origin or a peer may ask the host agent
// for an operation, against the preferences, and accounts spending. A decision, its
// spending and its audit entries (the `audit` table and an `access-decision` archive record)
// commit in ONE BEGIN IMMEDIATE transaction: two connections (two agent processes, two
// tabs) cannot both pass a limit that only one of them fits, and no decision goes unrecorded.
//
// "allowed" here means the host forwards the request without asking the user on the PC;
// money and signatures still need the user's OK and PIN on the device (ARCHITECTURE §3).

import { encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { SqliteArchive } from './archive';
import { isMinorUnits } from './money';
import { checkCurrency, checkOperation, Operation, PreferenceError, SqlitePreferences, Subject, subjectKey } from './preferences';
import { immediate, mapSqliteError, whereClause } from './sqlite';

export type Outcome = 'allowed' | 'denied' | 'ask';

/** Why: one code per rule that decided. Match on these, not on text. */
export type DecisionReason =
  | 'RULE_ALLOWED' // a rule allows it (and for pay: within the limits)
  | 'RULE_DENIED' // a rule denies it
  | 'NO_RULE' // no rule: ask the user
  | 'NO_LIMIT' // pay is allowed but no limit is set for this currency: ask the user
  | 'OVER_TRANSACTION_LIMIT' // pay above the per-transaction limit
  | 'OVER_DAILY_LIMIT' // pay that would exceed the rolling 24-hour limit
  | 'USER_ALLOWED' // the user was asked and allowed it
  | 'USER_DENIED'; // the user was asked and refused

export interface AccessRequest {
  subject: Subject;
  op: Operation;
  /** For pay: the amount asked for, in minor units (> 0). */
  amount?: { amount: number; currency: string };
  deal?: string;
}

export interface Decision {
  outcome: Outcome;
  reason: DecisionReason;
  /** The subject key (`origin:…` / `peer:…`). */
  subject: string;
  op: Operation;
  auditId: number;
  archiveSeq: number;
}

export interface AuditEntry {
  id: number;
  time: number;
  subject: string;
  op: Operation;
  amount: number | null;
  currency: string | null;
  deal: string | null;
  outcome: Outcome;
  reason: DecisionReason;
  archiveSeq: number;
}

export interface AuditQuery {
  subject?: Subject;
  afterId?: number;
  limit?: number;
}

export const DAY_MS = 86_400_000;

interface Checked {
  key: string;
  op: Operation;
  amount?: number;
  currency?: string;
  deal?: string;
}

export class AccessControl {
  private readonly prefs: SqlitePreferences;

  constructor(
    private readonly archive: SqliteArchive,
    private readonly opts: { now?: () => number } = {},
  ) {
    this.prefs = new SqlitePreferences(archive);
  }

  /** Decides a request against the rules and limits; records and commits the decision (and spending) before returning. */
  async decide(req: AccessRequest): Promise<Decision> {
    const r = this.check(req);
    return immediate(this.archive.db, () => {
      const state = this.prefs.approvalSync(r.key, r.op);
      if (state === 'denied') return this.record(r, 'denied', 'RULE_DENIED', false);
      if (state === 'unknown') return this.record(r, 'ask', 'NO_RULE', false);
      if (r.op !== 'pay') return this.record(r, 'allowed', 'RULE_ALLOWED', false);
      const limit = this.prefs.limitSync(r.key, r.currency!);
      if (!limit) return this.record(r, 'ask', 'NO_LIMIT', false);
      if (limit.perTransaction !== undefined && r.amount! > limit.perTransaction) return this.record(r, 'denied', 'OVER_TRANSACTION_LIMIT', false);
      if (limit.perDay !== undefined && this.spentSync(r.key, r.currency!) + r.amount! > limit.perDay) return this.record(r, 'denied', 'OVER_DAILY_LIMIT', false);
      return this.record(r, 'allowed', 'RULE_ALLOWED', true);
    });
  }

  /**
   * Records the user's answer after an `ask` (and, with `remember`, stores it as a rule in
   * the same transaction). An allowed payment counts toward the daily totals; the user's
   * explicit OK is not itself held to the limits.
   */
  async recordAnswer(req: AccessRequest, allow: boolean, opts: { remember?: boolean } = {}): Promise<Decision> {
    const r = this.check(req);
    return immediate(this.archive.db, () => {
      if (opts.remember) this.prefs.setRuleInTransaction(r.key, r.op, allow ? 'allowed' : 'denied');
      return this.record(r, allow ? 'allowed' : 'denied', allow ? 'USER_ALLOWED' : 'USER_DENIED', allow && r.op === 'pay');
    });
  }

  /** Minor units of `currency` spent by `subject` in the rolling 24 hours before now. */
  async spentToday(subject: Subject, currency: string): Promise<number> {
    return this.spentSync(subjectKey(subject), checkCurrency(currency));
  }

  async audit(q: AuditQuery = {}): Promise<AuditEntry[]> {
    const w = whereClause([
      ['subject = ?', q.subject ? subjectKey(q.subject) : undefined],
      ['id > ?', q.afterId],
    ]);
    const sql = `SELECT id, time, subject, op, amount, currency, deal, outcome, reason, archive_seq AS archiveSeq FROM audit ${w.sql} ORDER BY id LIMIT ?`;
    try {
      return this.archive.db.prepare(sql).all(...w.args, q.limit ?? -1) as AuditEntry[];
    } catch (e) {
      return mapSqliteError(e);
    }
  }

  private now(): number {
    return Math.floor((this.opts.now ?? Date.now)());
  }

  private check(req: AccessRequest): Checked {
    const key = subjectKey(req?.subject);
    const op = checkOperation(req.op);
    const r: Checked = { key, op };
    if (req.deal !== undefined) {
      if (typeof req.deal !== 'string' || req.deal.length === 0 || req.deal.length > 256) throw new PreferenceError('BAD_INPUT', 'deal must be a string of 1-256 characters');
      r.deal = req.deal;
    }
    if (op === 'pay') {
      const a = req.amount;
      if (!a || !isMinorUnits(a.amount) || a.amount <= 0) throw new PreferenceError('BAD_INPUT', 'pay needs an amount: a positive integer number of minor units');
      r.amount = a.amount;
      r.currency = checkCurrency(a.currency);
    } else if (req.amount !== undefined) throw new PreferenceError('BAD_INPUT', `${op} takes no amount`);
    return r;
  }

  private spentSync(key: string, currency: string): number {
    try {
      const s = this.archive.db.prepare('SELECT COALESCE(SUM(amount), 0) FROM spending WHERE subject = ? AND currency = ? AND time > ?').pluck().get(key, currency, this.now() - DAY_MS);
      return s as number;
    } catch (e) {
      return mapSqliteError(e);
    }
  }

  /** Inside the transaction: archive record, audit row, spending row. */
  private record(r: Checked, outcome: Outcome, reason: DecisionReason, spend: boolean): Decision {
    const db = this.archive.db;
    const time = this.now();
    const ev: HostCborMap = new Map<number | string, HostCbor>([
      [1, r.key],
      [2, r.op],
      [3, outcome],
      [4, reason],
    ]);
    if (r.amount !== undefined) ev.set(5, r.amount).set(6, r.currency!);
    if (r.deal !== undefined) ev.set(7, r.deal);
    const rec = this.archive.appendInTransaction({ kind: 'access-decision', counterparty: r.key, label: `${r.op} ${outcome}`, note: reason, evidence: encodeCanonical(ev), ...(r.deal ? { deal: r.deal } : {}) });
    const auditId = Number(
      db
        .prepare('INSERT INTO audit (time, subject, op, amount, currency, deal, outcome, reason, archive_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(time, r.key, r.op, r.amount ?? null, r.currency ?? null, r.deal ?? null, outcome, reason, rec.seq).lastInsertRowid,
    );
    if (spend) db.prepare('INSERT INTO spending (time, subject, currency, amount, audit_id) VALUES (?, ?, ?, ?, ?)').run(time, r.key, r.currency!, r.amount!, auditId);
    return { outcome, reason, subject: r.key, op: r.op, auditId, archiveSeq: rec.seq };
  }
}
