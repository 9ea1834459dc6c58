// The statement pages of the buyer agent: GET /statement (every purchase, like a bank
// statement), GET /statement/{deal} (one deal's evidence) and the accounting CSV
// (GET /statement.csv, GET /statement/{deal}.csv, as `semper archive export --csv` writes it).
//
// A page on 127.0.0.1 that shows the buyer's purchase history is a privacy target, so these
// routes have their own gate (pageGate) on top of the Host check: any local process may read
// them (the archive file is readable to it anyway), but no web page may — a request that
// carries an Origin, or a Sec-Fetch-Site other than `none` (typed or bookmarked) or
// `same-origin` (a link on these pages), is refused; no CORS header is ever sent; the
// answers forbid framing, embedding (CORP), caching, referrers and every script (CSP).

import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { TrustStore } from '../../../shared/src/certificate';
import type { ArchiveStore } from '../services/archive';
import { toCsv } from '../services/archive-export';
import { html, HtmlValue, SafeHtml } from '../services/html';
import { formatMinorUnits } from '../services/money';
import { AgentError } from './errors';
import { checkHost } from './guard';
import { CheckMemo, MAX_UNPAGED, readStatement, SignatureCheck, Statement, StatementDeal } from './statement';

const DEAL = '([A-Za-z0-9_-]{1,64})';
const PAGE_ROUTES: [RegExp, 'page' | 'csv'][] = [
  [new RegExp(`^/statement(?:/${DEAL})?$`), 'page'],
  [new RegExp(`^/statement(?:/${DEAL})?\\.csv$`), 'csv'],
];

/** True for the paths this module serves (the server routes them here before its API gate). */
export function isStatementPath(path: string): boolean {
  return path === '/statement' || path.startsWith('/statement/') || path === '/statement.csv';
}

/**
 * The page gate (after checkHost): no Origin header at all — browsers send one on every
 * cross-origin request but a navigation — and Sec-Fetch-Site, when sent, `none` or
 * `same-origin`. Browsers without Fetch Metadata still cannot read the answer across origins
 * (no CORS), embed it (CORP same-origin, nosniff) or frame it (frame-ancestors).
 */
export function pageGate(headers: http.IncomingHttpHeaders): void {
  if (headers.origin !== undefined) throw new AgentError('CROSS_SITE', 'the statement is not for web pages: open it from the address bar');
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'none' && site !== 'same-origin') throw new AgentError('CROSS_SITE', 'the statement opens only from the address bar or from its own pages, not from another site');
}

// ------------------------------------------------------------------ rendering

const CSS = `body{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1b1b1b}
h1{font-size:1.5em;margin:0 0 .5em}h2{font-size:1.15em;margin:1.5em 0 .5em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{padding:.35em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.banner{padding:.7em 1em;border-radius:4px;margin:1em 0;font-weight:600}.ok{background:#e6f4ea;color:#14532d}
.alarm{background:#b91c1c;color:#fff;font-size:1.15em;border:3px solid #7f1d1d}
.outcome{font-weight:600}.paid{color:#14532d}.refused{color:#555}.refunded{color:#1e40af}.pending,.disputed{color:#92400e}.failed{color:#b91c1c}
.valid{color:#14532d}.invalid{color:#b91c1c;font-weight:700}.unchecked,.unsigned{color:#555}
.void{text-decoration:line-through;color:#777}.muted{color:#666;font-size:.9em}code{font-size:.85em;word-break:break-all}a{color:#1d4ed8}`;

/** The only style the pages use, allowed by its hash: the CSP allows no other style and no script. */
const STYLE_HASH = createHash('sha256').update(CSS).digest('base64');
export const STATEMENT_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'`;

function when(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

function money(amount: number, currency: string): string {
  return `${formatMinorUnits(amount, currency) ?? String(amount)} ${currency}`;
}

const OUTCOME_WORDS: Record<StatementDeal['outcome'], string> = {
  paid: 'paid',
  refused: 'refused — nothing paid',
  refunded: 'refunded',
  pending: 'pending',
  failed: 'failed after payment',
  disputed: 'disputed',
};

const CHECK_WORDS: Record<SignatureCheck['state'], string> = { valid: 'signature verifies', invalid: 'DOES NOT VERIFY', unchecked: 'signed, not checked here', unsigned: 'not a signature' };

function page(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><style>${new SafeHtml(CSS)}</style></head>
<body>${body}</body></html>
`.html;
}

function banner(s: Statement): SafeHtml {
  if (s.chain.ok) {
    const r = s.chain.report;
    const cps = r.checkpoints === 0 ? 'no signed checkpoints yet' : `${r.checkpoints} checkpoints`;
    return html`<p class="banner ok" id="chain">Archive intact: ${r.records} records, chain verified (${cps}).</p>`;
  }
  const at = s.chain.seq !== undefined ? ` at record ${s.chain.seq}` : '';
  return html`<p class="banner alarm" id="chain" role="alert">WARNING: the archive has been changed outside SEMPER or is damaged (${s.chain.code}${at}: ${s.chain.message}). What this page shows cannot be relied on. Keep a copy of the file as it is, restore a backup and compare with your merchants’ receipts (semper archive verify).</p>`;
}

function outcomeCell(d: StatementDeal): SafeHtml {
  return html`<span class="outcome ${d.outcome}">${OUTCOME_WORDS[d.outcome]}</span><br><span class="muted">deal ${d.state}${d.exchange ? html`; ${d.exchange}` : ''}</span>`;
}

function merchantCell(d: StatementDeal): SafeHtml {
  const mark = d.merchant.caVerified === true ? ' ✓' : d.merchant.caVerified === false ? ' ✗' : '';
  return html`${d.merchant.name}${mark}<br><span class="muted">${d.merchant.detail}</span>`;
}

/** The row's link to the evidence, with how many signatures verify — and, loud, how many do not. */
function evidenceCell(d: StatementDeal): SafeHtml {
  const valid = d.evidence.filter((e) => e.check.state === 'valid').length;
  const invalid = d.evidence.filter((e) => e.check.state === 'invalid').length;
  const words = html`${d.evidence.length} records, ${valid} ${valid === 1 ? 'signature verifies' : 'signatures verify'}${invalid ? html`, <span class="invalid">${invalid} ${invalid === 1 ? 'DOES' : 'DO'} NOT</span>` : ''}`;
  return html`<a href="/statement/${encodeURIComponent(d.id)}">evidence</a><br><span class="muted">${words}</span>`;
}

function totalsTable(s: Statement): HtmlValue {
  if (!s.totals.length) return html`<p>No money has been paid through these purchases (from the purse or an account).</p>`;
  return html`<table id="totals"><thead><tr><th>Currency</th><th class="num">Paid</th><th class="num">Pending</th><th class="num">Refunded</th><th class="num">Net out</th></tr></thead><tbody>
${s.totals.map((t) => html`<tr data-currency="${t.currency}"><td>${t.currency}</td><td class="num">${money(t.paid, t.currency)}</td><td class="num">${money(t.pending, t.currency)}</td><td class="num">${money(t.refunded, t.currency)}</td><td class="num">${money(t.net, t.currency)}</td></tr>`)}
</tbody></table>`;
}

/** Links to each month with purchases (and to all of them while there are few enough). */
function monthNav(s: Statement): HtmlValue {
  if (s.months.length < 2 && !s.month) return '';
  const total = s.months.length;
  const links = s.months.map((m) => (m === s.month ? html`<strong>${m}</strong>` : html`<a href="/statement?month=${m}">${m}</a>`));
  const all = s.month === undefined ? html`<strong>all</strong>` : html`<a href="/statement">all</a>`;
  return html`<p id="months">Months: ${links.map((l, i) => html`${i ? ' · ' : ''}${l}`)}${total > 1 ? html` · ${all}` : ''}${s.month ? html` <span class="muted">(showing ${s.month}; with more than ${MAX_UNPAGED} purchases the statement shows a month at a time)</span>` : ''}</p>`;
}

export function renderStatement(s: Statement): string {
  const rows = s.deals.map(
    (d) => html`<tr data-deal="${d.id}"><td class="num">${when(d.time)}</td><td>${merchantCell(d)}</td><td>${d.title}</td><td class="num${d.paymentMade ? '' : ' void'}">${d.amount ? money(-d.amount.amount, d.amount.currency) : '—'}</td><td>${outcomeCell(d)}</td><td>${d.receipt ? 'yes' : 'no'}</td><td>${evidenceCell(d)}</td></tr>`,
  );
  return page(
    'Your purchases — SEMPER',
    html`<h1>Your purchases${s.month ? html` in ${s.month}` : ''}</h1>${banner(s)}${monthNav(s)}
<h2>Totals</h2>${totalsTable(s)}
<h2>Purchases</h2>
${s.deals.length ? html`<table id="deals"><thead><tr><th>Date</th><th>Merchant (from its certificate)</th><th>What</th><th class="num">Amount</th><th>Outcome</th><th>Receipt</th><th>Evidence</th></tr></thead><tbody>
${rows}
</tbody></table>` : html`<p>No purchases in your archive yet.</p>`}
<p class="muted"><a href="/statement.csv">Export the whole archive as CSV</a> (as semper archive export --csv writes it). ${s.records} records in the archive.</p>`,
  );
}

export function renderDeal(s: Statement, d: StatementDeal): string {
  const rows = d.evidence.map((e) => {
    const r = e.record;
    return html`<tr data-seq="${r.seq}" data-kind="${r.kind}" data-check="${e.check.state}"><td class="num">${r.seq}</td><td class="num">${when(r.time)}</td><td>${r.kind}</td><td>${r.label ?? ''}${r.note ? html`<br><span class="muted">${r.note}</span>` : ''}</td><td class="num">${r.amount !== undefined && r.currency ? money(r.amount, r.currency) : ''}</td><td><span class="${e.check.state}">${CHECK_WORDS[e.check.state]}</span><br><span class="muted">${e.check.why}</span></td><td><code>${Buffer.from(r.hash).toString('hex').slice(0, 16)}…</code></td></tr>`;
  });
  return page(
    `Deal ${d.id} — SEMPER`,
    html`<p><a href="/statement">← all purchases</a></p><h1>${d.title || 'Purchase'}</h1>${banner(s)}
<table id="summary"><tbody>
<tr><th>Deal</th><td><code>${d.id}</code></td></tr>
<tr><th>Date</th><td>${when(d.time)}</td></tr>
<tr><th>Merchant</th><td>${merchantCell(d)}</td></tr>
<tr><th>Amount</th><td>${d.amount ? money(d.amount.amount, d.amount.currency) : '—'}${d.refunded ? html` (refunded ${money(d.refunded, d.amount?.currency ?? '')})` : ''}</td></tr>
<tr><th>Outcome</th><td>${outcomeCell(d)}${d.note ? html`<br><span class="muted">${d.note}</span>` : ''}</td></tr>
<tr><th>Receipt</th><td>${d.receipt ? 'yes' : 'no'}</td></tr>
</tbody></table>
<h2>Evidence</h2>
<table id="evidence"><thead><tr><th class="num">#</th><th>Time</th><th>Kind</th><th>What</th><th class="num">Amount</th><th>Signature</th><th>Record hash</th></tr></thead><tbody>
${rows}
</tbody></table>
<p class="muted"><a href="/statement/${encodeURIComponent(d.id)}.csv">These records as CSV</a> · semper archive export --pack FILE --deal ${d.id} makes the evidence pack for an arbiter.</p>`,
  );
}

// ------------------------------------------------------------------ serving

export interface StatementPagesOptions {
  archive: ArchiveStore;
  trust?: TrustStore;
  /** The agent's memo of checked signatures (one per agent: later looks cost no ECDSA). */
  memo?: CheckMemo;
}

/** `?month=YYYY-MM` on /statement; no other query parameter exists. */
function monthParam(query: URLSearchParams, deal: string | undefined): string | undefined {
  let month: string | undefined;
  for (const [k, v] of query) {
    if (k !== 'month' || deal !== undefined || !/^\d{4}-(0[1-9]|1[0-2])$/.test(v)) throw new AgentError('BAD_REQUEST', 'the only query parameter is month=YYYY-MM, on /statement');
    month = v;
  }
  return month;
}

/** Headers of every statement answer (errors too): nothing cross-origin may read, frame, embed or cache it. */
function secure(res: http.ServerResponse): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', STATEMENT_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/**
 * Serves a statement path (isStatementPath). Host first, then the page gate, then GET only.
 * Errors are short plain text (an AgentError's message): the user reads them in the browser.
 */
export async function serveStatement(req: http.IncomingMessage, res: http.ServerResponse, port: number, o: StatementPagesOptions): Promise<void> {
  secure(res);
  checkHost(req.headersDistinct.host, port);
  pageGate(req.headers);
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname;
  const match = PAGE_ROUTES.map(([re, kind]) => ({ m: re.exec(path), kind })).find((x) => x.m);
  if (!match?.m) throw new AgentError('NOT_FOUND', `no page ${path.slice(0, 80)}`);
  if (req.method !== 'GET') {
    res.setHeader('Allow', 'GET');
    throw new AgentError('METHOD_NOT_ALLOWED', 'GET only');
  }
  const deal = match.m[1];
  if (match.kind === 'csv') {
    if ([...url.searchParams].length) throw new AgentError('BAD_REQUEST', 'the CSV takes no query parameter');
    const records = await o.archive.list(deal ? { deal } : {});
    if (deal && records.length === 0) throw new AgentError('NOT_FOUND', 'no such deal in your archive');
    const csv = toCsv(records);
    return void res
      .writeHead(200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${deal ? `deal-${deal}` : 'archive'}.csv"`, 'Content-Length': Buffer.byteLength(csv) })
      .end(csv);
  }
  const month = monthParam(url.searchParams, deal);
  const s = await readStatement(o.archive, { ...(o.trust ? { trust: o.trust } : {}), ...(o.memo ? { memo: o.memo } : {}), ...(deal ? { only: deal } : {}), ...(month ? { month } : {}) });
  let body: string;
  if (deal) {
    const d = s.deals[0];
    if (!d) throw new AgentError('NOT_FOUND', 'no such purchase in your archive');
    body = renderDeal(s, d);
  } else body = renderStatement(s);
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

/** A statement error as plain text (the secure headers are already set). */
export function failStatement(res: http.ServerResponse, e: unknown, log?: (line: string) => void): void {
  const err = e instanceof AgentError ? e : new AgentError('INTERNAL', 'internal error in the agent');
  if (!(e instanceof AgentError)) log?.(`statement: ${e instanceof Error ? e.message : String(e)}`);
  if (res.headersSent) return void res.end();
  const text = `${err.code}: ${err.message}\n`;
  res.writeHead(err.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) }).end(text);
}
