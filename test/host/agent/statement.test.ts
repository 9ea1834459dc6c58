// The statement pages over real HTTP, from a real SQLite archive written by the commerce code
// (statement-fixture.ts): rows, outcomes and totals of paid, refused, pending and refunded
// purchases; one deal's evidence with its signature checks; the CSV export; a tampered archive
// shows the warning; the gate (Host × Origin × Sec-Fetch-Site × method); escaping of text
// from merchants.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServer } from '../../../host/src/agent/server';
import { STATEMENT_CSP } from '../../../host/src/agent/statement-page';
import { CheckMemo, MAX_UNPAGED, readStatement } from '../../../host/src/agent/statement';
import { SqliteArchive } from '../../../host/src/services/archive';
import { CSV_HEADER } from '../../../host/src/services/archive-export';
import { trustStore } from '../bank/rig';
import { fixtureArchive, PURCHASES, START } from './statement-fixture';
import { request, Reply } from './rig';

jest.setTimeout(60000);

/** The statement never asks the device; a device that fails keeps that visible. */
const noDevice = { confirm: async (): Promise<void> => Promise.reject(new Error('the statement must not ask the device')) };

interface Running {
  dir: string;
  archive: SqliteArchive;
  deals: string[];
  agent: AgentServer;
  get(path: string, headers?: Record<string, string>, method?: string): Promise<Reply>;
  close(): Promise<void>;
}

async function running(purchases = PURCHASES, stepMs?: number): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'statement-'));
  const { archive, deals } = await fixtureArchive(join(dir, 'archive.db'), purchases, stepMs);
  const agent = new AgentServer({ archive, device: noDevice, port: 0, trust: trustStore() });
  await agent.start();
  return {
    dir,
    archive,
    deals,
    agent,
    get: (path, headers = {}, method = 'GET') => request(agent.port, method, path, { Host: `127.0.0.1:${agent.port}`, ...headers }),
    async close() {
      await agent.stop();
      archive.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let r: Running;
beforeAll(async () => {
  r = await running();
});
afterAll(() => r.close());

/** The <tr> of a deal in the statement's HTML. */
function row(page: string, deal: string): string {
  const m = new RegExp(`<tr data-deal="${deal}">([\\s\\S]*?)</tr>`).exec(page);
  if (!m) throw new Error(`no row for deal ${deal}`);
  return m[1];
}

function totals(page: string, currency: string): string[] {
  const m = new RegExp(`<tr data-currency="${currency}">([\\s\\S]*?)</tr>`).exec(page);
  if (!m) throw new Error(`no totals for ${currency}`);
  return [...m[1].matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((x) => x[1]);
}

test('one row per purchase: date, certified merchant, what, amount, outcome, receipt', async () => {
  const res = await r.get('/statement', { 'Sec-Fetch-Site': 'none' });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  const page = res.text;
  expect(page).toMatch(/Archive intact: \d+ records, chain verified/);
  const [paid, refused, pending, refunded, yen] = r.deals;
  expect(row(page, paid)).toMatch(/2026-11-20 10:01 UTC[\s\S]*music\.example ✓[\s\S]*Trial recordings CD[\s\S]*-15\.00 EUR[\s\S]*class="outcome paid">paid<[\s\S]*deal completed; exchange final completed[\s\S]*<td>yes<\/td>/);
  // a refused purchase: the amount struck through, nothing under way
  expect(row(page, refused)).toMatch(/books\.example[\s\S]*<td class="num void">-23\.50 EUR[\s\S]*class="outcome refused">refused — nothing paid<[\s\S]*deal failed<\/span>[\s\S]*<td>no<\/td>/);
  expect(row(page, pending)).toMatch(/maps\.example[\s\S]*-7\.20 EUR[\s\S]*class="outcome pending">pending<[\s\S]*deal paid; exchange ttp resolve[\s\S]*<td>no<\/td>/);
  expect(row(page, refunded)).toMatch(/shirts\.example[\s\S]*-19\.99 EUR[\s\S]*class="outcome refunded">refunded<[\s\S]*exchange aborted[\s\S]*<td>yes<\/td>/);
  expect(row(page, yen)).toMatch(/tokyo\.example[\s\S]*-4800 JPY[\s\S]*class="outcome paid">/);
  // statement order: oldest first, as the purchases were made
  expect(r.deals.map((d) => page.indexOf(`data-deal="${d}"`))).toEqual([...r.deals.map((d) => page.indexOf(`data-deal="${d}"`))].sort((a, b) => a - b));
  expect(row(page, paid)).toMatch(/7 records, 2 signatures verify<\/span>/);
  expect(page).toContain(`href="/statement.csv"`);
});

test('totals per currency: the refused purchase costs nothing, the pending one is apart, the refund is back', async () => {
  const page = (await r.get('/statement')).text;
  // paid = music 15.00 + shirts 19.99 (paid, then refunded); pending = maps 7.20; refunded 19.99
  expect(totals(page, 'EUR')).toEqual(['EUR', '34.99 EUR', '7.20 EUR', '19.99 EUR', '22.20 EUR']);
  expect(totals(page, 'JPY')).toEqual(['JPY', '4800 JPY', '0 JPY', '0 JPY', '4800 JPY']);
  const s = await readStatement(r.archive);
  expect(s.totals.map((t) => [t.currency, t.net])).toEqual([['EUR', 15_00 + 19_99 + 7_20 - 19_99], ['JPY', 4800]]);
});

test('one deal: every evidence record with its signature check', async () => {
  const [paid, , pending, refunded] = r.deals;
  const res = await r.get(`/statement/${paid}`, { 'Sec-Fetch-Site': 'same-origin' });
  expect(res.status).toBe(200);
  const kinds = [...res.text.matchAll(/data-kind="([^"]+)" data-check="([^"]+)"/g)].map((m) => `${m[1]}:${m[2]}`);
  expect(kinds).toEqual(['offer:valid', 'order:unsigned', 'deal:unsigned', 'payment-token:unchecked', 'transfer:unsigned', 'deal:unsigned', 'receipt:valid']);
  expect(res.text).toMatch(/its SHA-256 is the offer the deal names/);
  expect(res.text).toMatch(/its SHA-256 is the order the deal names/);
  expect(res.text).toContain('Archive intact');
  // the third party's decision sits under the exchange id and is shown with the deal
  const back = await r.get(`/statement/${refunded}`);
  expect(back.text).toMatch(/data-kind="ttp-decision" data-check="unchecked"/);
  expect(back.text).toMatch(/data-kind="refund"[\s\S]*19\.99 EUR/);
  expect((await r.get(`/statement/${pending}`)).text).toMatch(/waiting for the third party/);
  expect((await r.get('/statement/0123456789abcdef')).status).toBe(404);
});

test('a forged offer is shown as not verifying', async () => {
  const f = await running([{ merchant: 'forger.example', title: 'Too good', price: 1_00, ending: 'paid', forgedOffer: true }]);
  try {
    const page = (await f.get(`/statement/${f.deals[0]}`)).text;
    expect(page).toMatch(/data-kind="offer" data-check="invalid"[\s\S]*DOES NOT VERIFY[\s\S]*does not verify under forger\.example/);
    expect(page).toMatch(/its SHA-256 is NOT the offer the deal names/);
    // and the statement's row says so too
    expect(row((await f.get('/statement')).text, f.deals[0])).toMatch(/1 signature verifies, <span class="invalid">1 DOES NOT<\/span>/);
  } finally {
    await f.close();
  }
});

test('the CSV export is the archive CSV of semper archive export', async () => {
  const all = await r.get('/statement.csv');
  expect(all.status).toBe(200);
  expect(all.headers['content-type']).toBe('text/csv; charset=utf-8');
  expect(all.headers['content-disposition']).toBe('attachment; filename="archive.csv"');
  const lines = all.text.split('\r\n');
  expect(lines[0]).toBe(CSV_HEADER.join(','));
  expect(lines.length - 2).toBe((await r.archive.head()).seq);
  const one = await r.get(`/statement/${r.deals[0]}.csv`);
  expect(one.text.split('\r\n').slice(1, -1).every((l) => l.includes(r.deals[0]))).toBe(true);
  expect(one.text).toContain(`${new Date(START + 60_000).toISOString()},offer,offer of music.example,music.example,15.00,EUR`);
  expect((await r.get('/statement/ffff.csv')).status).toBe(404);
});

test('a tampered archive: the warning, loud, above everything', async () => {
  const t = await running(PURCHASES.slice(0, 1));
  try {
    expect((await t.get('/statement')).text).toContain('Archive intact');
    // someone with the file drops the append-only trigger and changes an amount
    const triggers = t.archive.db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'records'").pluck().all() as string[];
    for (const name of triggers) t.archive.db.exec(`DROP TRIGGER "${name}"`);
    t.archive.db.prepare("UPDATE records SET amount = -1 WHERE kind = 'order'").run();
    const page = (await t.get('/statement')).text;
    expect(page).not.toContain('Archive intact');
    expect(page).toMatch(/<p class="banner alarm" id="chain" role="alert">WARNING: the archive has been changed outside SEMPER or is damaged \(TAMPERED at record 2: /);
    expect(page.indexOf('WARNING')).toBeLessThan(page.indexOf('<table'));
    expect((await t.get(`/statement/${t.deals[0]}`)).text).toContain('role="alert">WARNING');
  } finally {
    await t.close();
  }
});

test('the page headers: no CORS, no framing, no embedding, no script, no cache, no referrer', async () => {
  for (const path of ['/statement', `/statement/${r.deals[0]}`, '/statement.csv', '/statement/nope']) {
    const res = await r.get(path);
    expect(res.headers['content-security-policy']).toBe(STATEMENT_CSP);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  }
  expect(STATEMENT_CSP).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; .*frame-ancestors 'none'$/);
  expect(STATEMENT_CSP).not.toMatch(/script-src|unsafe/);
});

test('the gate: Host × Origin × Sec-Fetch-Site × method', async () => {
  const port = r.agent.port;
  const hosts: [string, boolean][] = [[`127.0.0.1:${port}`, true], [`localhost:${port}`, true], [`LOCALHOST:${port}`, true], [`attacker.test:${port}`, false], [`127.0.0.1:${port + 1}`, false], [`[::1]:${port}`, false], ['127.0.0.1', false]];
  const origins: [string | undefined, boolean][] = [[undefined, true], ['https://evil.example', false], [`http://127.0.0.1:${port}`, false], ['null', false], ['https://shop.example', false]];
  const sites: [string | undefined, boolean][] = [[undefined, true], ['none', true], ['same-origin', true], ['same-site', false], ['cross-site', false], ['bogus', false]];
  const methods: [string, boolean][] = [['GET', true], ['POST', false], ['PUT', false], ['DELETE', false], ['OPTIONS', false], ['HEAD', false]];
  await r.agent.prefs.setRule({ kind: 'origin', origin: 'https://shop.example' }, 'pay', 'allowed'); // even a paired origin may not read it
  const seen: string[] = [];
  for (const [host, hostOk] of hosts) {
    for (const [origin, originOk] of origins) {
      for (const [site, siteOk] of sites) {
        for (const [method, methodOk] of methods) {
          const headers: Record<string, string> = { Host: host, ...(origin ? { Origin: origin } : {}), ...(site ? { 'Sec-Fetch-Site': site } : {}) };
          const res = await request(port, method, '/statement', headers);
          const expected = !hostOk || !originOk || !siteOk ? 403 : methodOk ? 200 : 405;
          const why = `${method} Host=${host} Origin=${origin} Sec-Fetch-Site=${site}`;
          expect([why, res.status]).toEqual([why, expected]);
          if (res.status === 200) expect(res.text).toContain('Your purchases');
          else expect(res.text).not.toMatch(/music\.example|Trial recordings/);
          expect(res.headers['access-control-allow-origin']).toBeUndefined();
          // (HEAD answers carry no body to read the reason from)
          if (method !== 'HEAD' && !hostOk) expect(res.text).toMatch(/^BAD_HOST: /);
          else if (method !== 'HEAD' && (!originOk || !siteOk)) expect(res.text).toMatch(/^CROSS_SITE: /);
          seen.push(String(res.status));
        }
      }
    }
  }
  expect(new Set(seen)).toEqual(new Set(['200', '403', '405']));
  // the API keeps its own rules: a local process still needs the token there
  expect((await r.get('/v1/status')).json.error?.code).toBe('LOCAL_TOKEN_REQUIRED');
});

test('text from merchants is escaped: a certificate name and an article title with markup', async () => {
  const evil = '<b>Evil</b>&"Co\'<script>';
  const title = '"><img src=x onerror=alert(1)>';
  const e = await running([{ merchant: evil, title, price: 3_00, ending: 'paid' }]);
  try {
    for (const page of [(await e.get('/statement')).text, (await e.get(`/statement/${e.deals[0]}`)).text]) {
      expect(page).not.toContain('<script');
      expect(page).not.toContain('<b>Evil');
      expect(page).not.toContain('<img');
      expect(page).toContain('&lt;b&gt;Evil&lt;/b&gt;&amp;&quot;Co&#39;&lt;script&gt;');
      expect(page).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    }
  } finally {
    await e.close();
  }
});

test('a month at a time: ?month=YYYY-MM, links to the months, bad queries refused', async () => {
  // a record every 5 days: the five purchases spread from November 2026 to May 2027
  const m = await running(PURCHASES, 5 * 86_400_000);
  try {
    const all = (await m.get('/statement')).text;
    const months = [...all.matchAll(/href="\/statement\?month=(\d{4}-\d{2})"/g)].map((x) => x[1]);
    expect(months.length).toBeGreaterThan(2);
    expect(all).toContain('<strong>all</strong>');
    for (const d of m.deals) expect(all).toContain(`data-deal="${d}"`);
    const month = months[0];
    const one = await m.get(`/statement?month=${month}`);
    expect(one.status).toBe(200);
    expect(one.text).toContain(`<h1>Your purchases in ${month}</h1>`);
    const shown = m.deals.filter((d) => one.text.includes(`data-deal="${d}"`));
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThan(m.deals.length);
    expect(one.text).toMatch(/<td class="num">2026-11-\d\d /);
    expect((await m.get('/statement?month=2031-01')).text).toContain('No purchases');
    for (const bad of ['/statement?month=2026-13', '/statement?month=26-11', '/statement?page=2', `/statement/${m.deals[0]}?month=${month}`, '/statement.csv?month=2026-11']) {
      const r2 = await m.get(bad);
      expect([bad, r2.status, r2.text.slice(0, 12)]).toEqual([bad, 400, 'BAD_REQUEST:']);
    }
  } finally {
    await m.close();
  }
});

test('with more than MAX_UNPAGED purchases the statement shows the latest month, checking only its signatures', async () => {
  const many = Array.from({ length: MAX_UNPAGED + 1 }, (_, i) => ({ ...PURCHASES[0], title: `CD ${i}` }));
  const m = await running(many, 86_400_000);
  try {
    const memo = new CheckMemo();
    const s = await readStatement(m.archive, { memo, trust: trustStore() });
    expect(s.months.length).toBeGreaterThan(2);
    expect(s.month).toBe(s.months[s.months.length - 1]);
    expect(s.deals.length).toBeGreaterThan(0);
    expect(s.deals.length).toBeLessThan(40);
    expect(s.deals.every((d) => new Date(d.time).toISOString().startsWith(s.month as string))).toBe(true);
    // three checks a purchase shown (certificate, offer, receipt), remembered: a second look adds none
    expect(memo.size).toBe(3 * s.deals.length);
    const again = await readStatement(m.archive, { memo, trust: trustStore() });
    expect(memo.size).toBe(3 * s.deals.length);
    expect(again.deals.map((d) => d.evidence.map((e) => e.check.state))).toEqual(s.deals.map((d) => d.evidence.map((e) => e.check.state)));
    expect((await m.get('/statement')).text).toMatch(/showing \d{4}-\d{2}; with more than 200 purchases/);
  } finally {
    await m.close();
  }
});
