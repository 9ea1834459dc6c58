// Preferences and access control: origin normalisation, rules, per-origin spending limits,
// and the audit trail (table + tamper-evident archive records) of every decision.

import { join } from 'node:path';
import { AccessControl, DAY_MS } from '../../../host/src/services/access-control';
import { SqliteArchive } from '../../../host/src/services/archive';
import { decodeCanonical } from '../../../shared/src/cbor';
import { normaliseOrigin, PreferenceError, SqlitePreferences, Subject, subjectKey } from '../../../host/src/services/preferences';
import { tempDir } from './fixtures/harness';

let tmp: ReturnType<typeof tempDir>;
let clock: number;
let archive: SqliteArchive;
let prefs: SqlitePreferences;
let ac: AccessControl;
const shop: Subject = { kind: 'origin', origin: 'https://shop.example' };
const eur = (amount: number) => ({ amount, currency: 'EUR' });

beforeEach(() => {
  tmp = tempDir('prefs-');
  clock = Date.UTC(2026, 4, 1, 10);
  archive = SqliteArchive.open(join(tmp.dir, 'archive.db'), { now: () => clock });
  prefs = new SqlitePreferences(archive);
  ac = new AccessControl(archive, { now: () => clock });
});
afterEach(() => {
  archive.close();
  tmp.cleanup();
});

describe('origins (WHATWG URL serialisation, then exact comparison)', () => {
  test.each([
    ['https://shop.example', 'https://shop.example'],
    ['https://shop.example/', 'https://shop.example'],
    ['HTTPS://Shop.EXAMPLE:443', 'https://shop.example'],
    ['http://shop.example:80', 'http://shop.example'],
    ['https://shop.example:8443', 'https://shop.example:8443'],
    ['http://shop.example:443', 'http://shop.example:443'],
    ['https://bücher.example', 'https://xn--bcher-kva.example'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
  ])('%s → %s', (input, origin) => {
    expect(normaliseOrigin(input)).toBe(origin);
  });

  test.each(['null', '', 'shop.example', 'https://shop.example/pay', 'https://shop.example?x=1', 'https://shop.example#a', 'https://user@shop.example', 'file:///etc/passwd', 'data:text/html,x', 'javascript:alert(1)', 'ftp://shop.example', 'https://shop.example/.'])('refuses %j', (input) => {
    expect(() => normaliseOrigin(input)).toThrow(expect.objectContaining({ code: 'BAD_ORIGIN' }));
  });

  test('a rule for an origin applies to its spellings and to nothing else', async () => {
    await prefs.setRule({ kind: 'origin', origin: 'HTTPS://SHOP.example:443/' }, 'read-balance', 'allowed');
    expect(await prefs.approval(shop, 'read-balance')).toBe('allowed');
    for (const other of ['http://shop.example', 'https://shop.example:444', 'https://www.shop.example', 'https://shop.example.evil.test']) {
      expect(await prefs.approval({ kind: 'origin', origin: other }, 'read-balance')).toBe('unknown');
    }
    expect(subjectKey({ kind: 'peer', peer: 'cert:ab12' })).toBe('peer:cert:ab12');
    expect(() => subjectKey({ kind: 'peer', peer: 'has space' })).toThrow(PreferenceError);
  });
});

describe('rules', () => {
  test('unknown → ask; allowed; denied; back to unknown', async () => {
    expect(await ac.decide({ subject: shop, op: 'sign' })).toMatchObject({ outcome: 'ask', reason: 'NO_RULE' });
    await prefs.setRule(shop, 'sign', 'allowed');
    expect(await ac.decide({ subject: shop, op: 'sign' })).toMatchObject({ outcome: 'allowed', reason: 'RULE_ALLOWED' });
    await prefs.setRule(shop, 'sign', 'denied');
    expect(await ac.decide({ subject: shop, op: 'sign' })).toMatchObject({ outcome: 'denied', reason: 'RULE_DENIED' });
    await prefs.setRule(shop, 'sign', 'unknown');
    expect(await ac.decide({ subject: shop, op: 'sign' })).toMatchObject({ outcome: 'ask', reason: 'NO_RULE' });
    // rules are per operation and per subject
    await prefs.setRule({ kind: 'peer', peer: 'bank-1' }, 'read-log', 'allowed');
    expect(await ac.decide({ subject: { kind: 'peer', peer: 'bank-1' }, op: 'read-balance' })).toMatchObject({ outcome: 'ask' });
    expect(await prefs.rules()).toEqual([{ subject: 'peer:bank-1', op: 'read-log', state: 'allowed' }]);
  });

  test('the user answer is recorded, and remembered on request', async () => {
    expect(await ac.recordAnswer({ subject: shop, op: 'read-log' }, false)).toMatchObject({ outcome: 'denied', reason: 'USER_DENIED' });
    expect(await prefs.approval(shop, 'read-log')).toBe('unknown');
    expect(await ac.recordAnswer({ subject: shop, op: 'read-log' }, true, { remember: true })).toMatchObject({ outcome: 'allowed', reason: 'USER_ALLOWED' });
    expect(await prefs.approval(shop, 'read-log')).toBe('allowed');
  });

  test.each([
    [{ subject: shop, op: 'transfer-all' }],
    [{ subject: shop, op: 'pay' }],
    [{ subject: shop, op: 'pay', amount: eur(12.5) }],
    [{ subject: shop, op: 'pay', amount: eur(0) }],
    [{ subject: shop, op: 'pay', amount: eur(-5) }],
    [{ subject: shop, op: 'pay', amount: { amount: 5, currency: 'XBT' } }],
    [{ subject: shop, op: 'sign', amount: eur(5) }],
    [{ subject: { kind: 'origin', origin: 'null' }, op: 'sign' }],
  ])('refuses a malformed request %j without recording a decision', async (req) => {
    await expect(ac.decide(req as never)).rejects.toBeInstanceOf(PreferenceError);
    expect(await ac.audit()).toEqual([]);
  });
});

describe('spending limits', () => {
  beforeEach(async () => {
    await prefs.setRule(shop, 'pay', 'allowed');
  });

  test('no limit for the currency: ask', async () => {
    await prefs.setLimit(shop, { currency: 'USD', perDay: 10_000 });
    expect(await ac.decide({ subject: shop, op: 'pay', amount: eur(100) })).toMatchObject({ outcome: 'ask', reason: 'NO_LIMIT' });
  });

  test('per transaction and per rolling 24 hours, in integer minor units', async () => {
    await prefs.setLimit(shop, { currency: 'EUR', perTransaction: 5_000, perDay: 12_000 });
    expect(await prefs.limit(shop, 'EUR')).toEqual({ currency: 'EUR', perTransaction: 5_000, perDay: 12_000 });
    expect(await ac.decide({ subject: shop, op: 'pay', amount: eur(5_001) })).toMatchObject({ outcome: 'denied', reason: 'OVER_TRANSACTION_LIMIT' });
    expect(await ac.decide({ subject: shop, op: 'pay', amount: eur(5_000) })).toMatchObject({ outcome: 'allowed' });
    clock += 3_600_000;
    expect(await ac.decide({ subject: shop, op: 'pay', amount: eur(5_000) })).toMatchObject({ outcome: 'allowed' });
    expect(await ac.decide({ subject: shop, op: 'pay', amount: eur(2_001) })).toMatchObject({ outcome: 'denied', reason: 'OVER_DAILY_LIMIT' });
    expect(await ac.decide({ subject: shop, op: 'pay', amount: eur(2_000) })).toMatchObject({ outcome: 'allowed' });
    expect(await ac.spentToday(shop, 'EUR')).toBe(12_000);
    // the first payment leaves the window 24 hours after it was made
    clock += DAY_MS - 3_600_000 - 1;
    expect(await ac.spentToday(shop, 'EUR')).toBe(12_000);
    clock += 1;
    expect(await ac.spentToday(shop, 'EUR')).toBe(7_000);
    expect(await ac.decide({ subject: shop, op: 'pay', amount: eur(5_000) })).toMatchObject({ outcome: 'allowed' });
    // limits are per subject: another origin has none
    expect(await ac.decide({ subject: { kind: 'origin', origin: 'https://other.example' }, op: 'pay', amount: eur(1) })).toMatchObject({ outcome: 'ask', reason: 'NO_RULE' });
  });

  test("a user's explicit OK counts toward the day but is not held to it", async () => {
    await prefs.setLimit(shop, { currency: 'EUR', perDay: 1_000 });
    await ac.recordAnswer({ subject: shop, op: 'pay', amount: eur(900) }, true);
    expect(await ac.decide({ subject: shop, op: 'pay', amount: eur(200) })).toMatchObject({ outcome: 'denied', reason: 'OVER_DAILY_LIMIT' });
  });

  test('limits refuse non-integers and negative bounds; an empty limit is removed', async () => {
    await expect(prefs.setLimit(shop, { currency: 'EUR', perDay: 10.5 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(prefs.setLimit(shop, { currency: 'EUR', perTransaction: -1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(prefs.setLimit(shop, { currency: 'eur', perDay: 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await prefs.setLimit(shop, { currency: 'EUR', perDay: 100 });
    await prefs.setLimit(shop, { currency: 'EUR' });
    expect(await prefs.limit(shop, 'EUR')).toBeUndefined();
  });
});

describe('audit trail', () => {
  test('every decision is in the audit table and, tamper-evident, in the archive', async () => {
    await prefs.setRule(shop, 'pay', 'allowed');
    await prefs.setLimit(shop, { currency: 'EUR', perTransaction: 100 });
    const d1 = await ac.decide({ subject: shop, op: 'pay', amount: eur(50), deal: 'deal-9' });
    const d2 = await ac.decide({ subject: shop, op: 'pay', amount: eur(500) });
    const d3 = await ac.decide({ subject: { kind: 'peer', peer: 'ttp-1' }, op: 'read-log' });
    const audit = await ac.audit();
    expect(audit.map((a) => [a.subject, a.op, a.amount, a.currency, a.deal, a.outcome, a.reason])).toEqual([
      ['origin:https://shop.example', 'pay', 50, 'EUR', 'deal-9', 'allowed', 'RULE_ALLOWED'],
      ['origin:https://shop.example', 'pay', 500, 'EUR', null, 'denied', 'OVER_TRANSACTION_LIMIT'],
      ['peer:ttp-1', 'read-log', null, null, null, 'ask', 'NO_RULE'],
    ]);
    expect(audit.map((a) => a.id)).toEqual([d1.auditId, d2.auditId, d3.auditId]);
    expect((await ac.audit({ subject: shop, afterId: d1.auditId })).map((a) => a.id)).toEqual([d2.auditId]);

    const records = await archive.list({ kind: 'access-decision' });
    expect(records.map((r) => r.seq)).toEqual([d1.archiveSeq, d2.archiveSeq, d3.archiveSeq]);
    expect(records[0]).toMatchObject({ counterparty: 'origin:https://shop.example', label: 'pay allowed', note: 'RULE_ALLOWED', deal: 'deal-9' });
    expect(records[0].amount).toBeUndefined(); // a decision moves no money: it stays out of the accounting columns
    expect(decodeCanonical(records[1].evidence!, { maxSize: 1024, maxDepth: 2, maxLength: 256, maxCount: 16, maxTag: 0 })).toEqual(
      new Map<number, unknown>([[1, 'origin:https://shop.example'], [2, 'pay'], [3, 'denied'], [4, 'OVER_TRANSACTION_LIMIT'], [5, 500], [6, 'EUR']]),
    );
    // preference changes are archived too
    expect((await archive.list({ kind: 'preference-change' })).map((r) => r.label)).toEqual(['rule pay allowed', 'limit EUR']);
    await expect(archive.verify()).resolves.toMatchObject({ records: 5 });
    expect(() => archive.db.exec('DELETE FROM audit')).toThrow(/append-only/);
    expect(() => archive.db.exec('UPDATE spending SET amount = 1')).toThrow(/append-only/);
  });

  test('a decision that fails to commit leaves no trace (decision, spending and records are one transaction)', async () => {
    await prefs.setRule(shop, 'pay', 'allowed');
    await prefs.setLimit(shop, { currency: 'EUR', perDay: 1_000 });
    const before = (await archive.head()).seq;
    archive.db.exec("CREATE TEMP TRIGGER fail_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
    await expect(ac.decide({ subject: shop, op: 'pay', amount: eur(600) })).rejects.toMatchObject({ name: 'StoreError', code: 'IO', message: expect.stringMatching(/disk full/) });
    archive.db.exec('DROP TRIGGER fail_audit');
    expect((await archive.head()).seq).toBe(before);
    expect(await ac.spentToday(shop, 'EUR')).toBe(0);
    expect(await ac.decide({ subject: shop, op: 'pay', amount: eur(600) })).toMatchObject({ outcome: 'allowed' });
  });
});
