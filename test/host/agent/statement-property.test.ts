// Properties of the statement pages over outside input: whatever text merchants, their
// certificates and the archive put into a statement, the rendered page has exactly the tags
// and attributes of the same page with harmless text (escaping leaves no way to open a tag or
// an attribute); and the page gate refuses every request that carries an Origin, and every
// Sec-Fetch-Site but none and same-origin.

import fc from 'fast-check';
import { AgentError } from '../../../host/src/agent/errors';
import { pageGate, renderDeal, renderStatement } from '../../../host/src/agent/statement-page';
import { Outcome, Statement, StatementDeal } from '../../../host/src/agent/statement';
import type { ArchivedRecord } from '../../../host/src/services/archive';

const OUTCOMES: Outcome[] = ['paid', 'refused', 'refunded', 'pending', 'failed', 'disputed'];

interface Texts {
  merchant: string;
  detail: string;
  title: string;
  state: string;
  exchange: string;
  note: string;
  label: string;
  id: string;
  chainMessage: string;
}

function statementOf(t: Texts, outcome: Outcome, chainOk: boolean): Statement {
  const record: ArchivedRecord = { seq: 1, time: 0, kind: 'order', deal: t.id, label: t.label, note: t.note, counterparty: t.merchant, amount: -100, currency: 'EUR', body: new Uint8Array(), prev: new Uint8Array(32), hash: new Uint8Array(32) };
  const deal: StatementDeal = {
    id: t.id,
    time: 0,
    merchant: { name: t.merchant, caVerified: true, detail: t.detail },
    title: t.title,
    amount: { amount: 100, currency: 'EUR' },
    outcome,
    state: t.state,
    exchange: t.exchange,
    note: t.note,
    paymentMade: true,
    receipt: true,
    refunded: 0,
    evidence: [{ record, check: { state: 'invalid', by: t.merchant, why: t.detail } }],
  };
  return {
    chain: chainOk ? { ok: true, report: { records: 1, head: { seq: 1, hash: new Uint8Array(32) }, checkpoints: 0, anchoredSeq: 0, trusted: false } } : { ok: false, code: 'TAMPERED', seq: 1, message: t.chainMessage },
    deals: [deal],
    totals: [{ currency: 'EUR', paid: 100, pending: 0, refunded: 0, net: 100 }],
    records: 1,
    months: ['1970-01', '1970-02'],
    ...(chainOk ? {} : { month: '1970-01' }),
  };
}

/** The page's markup with every attribute value and every text emptied: what escaping must keep fixed. */
function skeleton(page: string): string[] {
  return [...page.matchAll(/<[^>]*>/g)].map((m) => m[0].replace(/="[^"]*"/g, '=""'));
}

// archive texts are 1…4096 characters (ARCHIVE.md): an empty text may change the markup (no note line), markup in text may not
const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
const markup = fc.constantFrom('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='x", '</td></tr></table><h1>', '&lt;b&gt;', '<!--', ']]>', '<style>', '"', "'", '<', '>');
const outside = fc.oneof(text, markup, fc.tuple(text, markup, text).map(([a, b, c]) => a + b + c));

test('whatever the outside text, the pages keep their tags and attributes', () => {
  const plainTexts: Texts = { merchant: 'm', detail: 'd', title: 't', state: 's', exchange: 'e', note: 'n', label: 'l', id: 'i', chainMessage: 'c' };
  fc.assert(
    fc.property(fc.record({ merchant: outside, detail: outside, title: outside, state: outside, exchange: outside, note: outside, label: outside, id: outside, chainMessage: outside }), fc.constantFrom(...OUTCOMES), fc.boolean(), (t, outcome, chainOk) => {
      const plain = statementOf(plainTexts, outcome, chainOk);
      const given = statementOf(t, outcome, chainOk);
      expect(skeleton(renderStatement(given))).toEqual(skeleton(renderStatement(plain)));
      expect(skeleton(renderDeal(given, given.deals[0]))).toEqual(skeleton(renderDeal(plain, plain.deals[0])));
    }),
    { numRuns: 300 },
  );
});

test('the page gate: any Origin, and any Sec-Fetch-Site but none and same-origin, is refused', () => {
  const site = fc.oneof(fc.constantFrom('none', 'same-origin', 'same-site', 'cross-site', 'None', ' none', ''), fc.string({ maxLength: 20 }));
  fc.assert(
    fc.property(fc.option(fc.string({ maxLength: 60 }), { nil: undefined }), fc.option(site, { nil: undefined }), (origin, fetchSite) => {
      const headers = { ...(origin !== undefined ? { origin } : {}), ...(fetchSite !== undefined ? { 'sec-fetch-site': fetchSite } : {}) };
      const allowed = origin === undefined && (fetchSite === undefined || fetchSite === 'none' || fetchSite === 'same-origin');
      let refused: unknown;
      try {
        pageGate(headers);
      } catch (e) {
        refused = e;
      }
      if (allowed) expect(refused).toBeUndefined();
      else expect(refused).toMatchObject({ code: 'CROSS_SITE', status: 403 });
      if (refused) expect(refused).toBeInstanceOf(AgentError);
    }),
    { numRuns: 1000 },
  );
});
