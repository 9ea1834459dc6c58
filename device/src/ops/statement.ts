// The statement (SPEC.md §5.4): decoded by the device itself from the exact bytes it will
// sign or pay, checked, and turned into the rows the user reads. Every field is shown. A
// field that names someone or something (title, payee, reference, origin, code, merchant)
// must be drawable in full — a look-alike or control character refuses the statement
// (UNDISPLAYABLE); free text shows such characters escaped. An offer digest the device
// has not verified, or a payee that differs from the verified merchant, refuses it
// (NOT_VERIFIED); a payee without an offer is shown loudly as UNVERIFIED.

import { CborValue, decode } from '../../../protocol/src/cbor';
import { CborError } from '../../../protocol/src/errors';
import { cborErrorToMessageError } from '../../../protocol/src/codec';
import { ErrorCode, NESTED_LIMITS, STATEMENT_SCHEMA, StatementKind } from '../../../protocol/src/messages';
import { decodeBody, SchemaError, Statement } from '../../../protocol/src/schema';
import { currencyExponent, formatDate, formatMoney } from '../ui/format';
import { t } from '../ui/lang';
import { toDisplay } from '../ui/text';
import { Row, textRows } from '../ui/tinguin';
import { OfferBook } from './offers';

export interface Refusal {
  code: number;
  path?: string;
}

export interface Reviewed {
  st: Statement;
  rows: Row[];
  /** The payee as the card records it: the verified merchant, else the payee field (UTF-8). */
  party: string;
}

/** Required fields per kind (SPEC.md table statement-kinds). */
function missing(st: Statement): string {
  if (st.kind === StatementKind.PAYMENT) {
    if (!st.amount) return '3';
    if (st.payee === undefined && !st.offer) return '4';
  } else if (st.kind === StatementKind.DOCUMENT) {
    if (st.text === undefined) return '7';
  } else if (st.kind === StatementKind.PAIRING) {
    if (st.code === undefined) return '11';
  } else if (st.kind === StatementKind.LOAD) {
    if (!st.amount) return '3';
  }
  return '';
}

function hex(b: Uint8Array, n: number): string {
  let s = '';
  for (let i = 0; i < n && i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s.toUpperCase();
}

/**
 * Decodes and checks a statement for a request that accepts `kinds`, and lays it out.
 * Returns the rows to show, or the refusal to answer with.
 */
export function review(bytes: Uint8Array, kinds: number[], offers: OfferBook): Reviewed | Refusal {
  let v: CborValue;
  try {
    v = decode(bytes, NESTED_LIMITS);
  } catch (e) {
    if (e instanceof CborError) {
      const me = cborErrorToMessageError(e);
      return { code: me.code, path: 'body.1' };
    }
    throw e;
  }
  let st: Statement;
  try {
    st = decodeBody(v, STATEMENT_SCHEMA, 'statement') as unknown as Statement;
  } catch (e) {
    if (e instanceof SchemaError) return { code: ErrorCode.SCHEMA, path: e.path };
    throw e;
  }
  if (kinds.indexOf(st.kind) < 0) return { code: ErrorCode.SCHEMA, path: 'statement.1' };
  const m = missing(st);
  if (m) return { code: ErrorCode.SCHEMA, path: 'statement.' + m };

  // the merchant: verified through its offer, or the payee as the host says
  let merchant = '';
  if (st.offer) {
    merchant = offers.merchantOf(st.offer);
    if (!merchant) return { code: ErrorCode.NOT_VERIFIED, path: 'statement.5' };
    if (st.payee !== undefined && st.payee !== merchant) return { code: ErrorCode.NOT_VERIFIED, path: 'statement.4' };
  }

  const rows: Row[] = [];
  const strict = (s: string, path: string): string | Refusal => {
    const d = toDisplay(s, false);
    return d === null ? { code: ErrorCode.UNDISPLAYABLE, path: path } : d;
  };
  const add = (label: string, value: string | Refusal, big?: boolean): Refusal | null => {
    if (typeof value !== 'string') return value;
    if (label) {
      const r = textRows(label + ' ' + value);
      for (let i = 0; i < r.length; i++) rows.push(r[i]);
    } else {
      const r = textRows(value, big);
      for (let i = 0; i < r.length; i++) rows.push(r[i]);
    }
    return null;
  };
  let bad: Refusal | null;

  const title = strict(st.title, 'statement.2');
  if (typeof title !== 'string') return title;
  // what kind of act this is comes first: the same fields under another kind must look different
  rows.push({ t: t('kind.' + st.kind), inv: true });
  const tr = textRows(title);
  for (let i = 0; i < tr.length; i++) rows.push(tr[i]);

  if (st.offer) {
    bad = add(t('st.merchant'), strict(merchant, 'statement.5'));
    if (bad) return bad;
    rows.push({ t: t('st.verified') });
    // a payee field beside the offer (equal to the merchant, checked above) is signed too: shown
    if (st.payee !== undefined) add(t('st.payeeNamed'), merchant);
  } else if (st.payee !== undefined) {
    bad = add(t('st.payee'), strict(st.payee, 'statement.4'));
    if (bad) return bad;
    rows.push({ t: t('st.unverified'), inv: true });
  }
  if (st.amount) {
    if (currencyExponent(st.amount.currency) < 0) return { code: ErrorCode.UNDISPLAYABLE, path: 'statement.3' };
    rows.push({ t: t('st.amount') });
    bad = add('', formatMoney(st.amount.amount, st.amount.currency, t('num.decimal'), t('num.group')), true);
    if (bad) return bad;
  }
  if (st.reference !== undefined) {
    bad = add(t('st.reference'), strict(st.reference, 'statement.6'));
    if (bad) return bad;
  }
  if (st.offer) rows.push({ t: t('st.deal') + ' ' + hex(st.offer, 8) });
  if (st.text !== undefined) {
    rows.push({ t: t('st.text') });
    // a newline leaves an empty row, which wrapping alone never does: "a b" wrapped at the
    // space and "a\nb" must not look the same
    bad = add('', (toDisplay(st.text, true) || '').split('\n').join('\n\n'));
    if (bad) return bad;
  }
  // wrapped like any field: the time of day must be on screen, not past its edge
  if (st.deliverBy !== undefined) add(t('st.deliverBy'), formatDate(st.deliverBy));
  if (st.refundUntil !== undefined) add(t('st.refundUntil'), formatDate(st.refundUntil));
  if (st.code !== undefined) {
    rows.push({ t: t('st.code') });
    bad = add('', strict(st.code, 'statement.11'), true);
    if (bad) return bad;
  }
  if (st.origin !== undefined) {
    bad = add(t('st.origin'), strict(st.origin, 'statement.10'));
    if (bad) return bad;
  }
  rows.push({ t: t('st.end') });
  return { st: st, rows: rows, party: st.offer ? merchant : st.payee || '' };
}

/** True if `r` is a refusal rather than a reviewed statement. */
export function refused(r: Reviewed | Refusal): r is Refusal {
  return (r as Refusal).code !== undefined;
}
