// The buyer's archive read as a bank statement (issue 7): one row per purchase (deal), what it
// cost and how it ended, totals per currency, and per deal the evidence records, each with
// whether its signature verifies — under the archive chain's own verification. Read-only:
// nothing here writes to the archive.
//
// The agent may not import the commerce layer (it sits above), so the records are read by
// their archive columns (kind, label, counterparty, amount, currency, deal) and by the few
// fields of the commerce layer's `deal` record this page needs (commerce/deal.ts, canonical
// CBOR {2: role, 3: [peer name, peer key, ? certificate], 6: state, 8: offer digest,
// 9: order digest, 10: exchange id, 11: note}). A deal record this page cannot read is shown
// as such, never guessed at.

import { sha256 } from '@noble/hashes/sha256';
import { decodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { Certificate, decodeCertificate, TrustStore } from '../../../shared/src/certificate';
import { COSE_LIMITS, decodeSign1, verifyDecodedSign1 } from '../../../shared/src/cose';
import { ArchivedRecord, ArchiveError, ArchiveStore, VerifyReport } from '../services/archive';

/** The chain's state: verified (with the report) or the first problem verify() found. */
export type ChainState = { ok: true; report: VerifyReport } | { ok: false; code: string; seq?: number; message: string };

/** How a purchase ended, as the statement says it. */
export type Outcome = 'paid' | 'refused' | 'refunded' | 'pending' | 'failed' | 'disputed';

/**
 * A record's signature as this page can judge it: `valid` (verified here, `by` says under whose
 * key), `invalid` (it does not verify — loud), `unchecked` (signed, but the key is not in the
 * archive: `why`), `unsigned` (not a signed document; `why` says what was checked instead).
 */
export interface SignatureCheck {
  state: 'valid' | 'invalid' | 'unchecked' | 'unsigned';
  by?: string;
  why: string;
}

export interface EvidenceRecord {
  record: ArchivedRecord;
  check: SignatureCheck;
}

/** The merchant as its certificate (carried in the deal record) says, and how far that was checked. */
export interface Merchant {
  name: string;
  /** The certificate chains to a CA of the agent's trust store (undefined: no trust store given). */
  caVerified?: boolean;
  /** Words: what was checked, what failed. */
  detail: string;
}

export interface StatementDeal {
  id: string;
  /** ms: when the purchase began (its first record). */
  time: number;
  merchant: Merchant;
  /** What was bought: the order's title (the device showed it). */
  title: string;
  /** Minor units the buyer pays (positive), and the currency. */
  amount?: { amount: number; currency: string };
  outcome: Outcome;
  /** The commerce state of the deal (open, ordered, paid, completed, failed, disputed) and the exchange's last word. */
  state: string;
  exchange?: string;
  note?: string;
  paymentMade: boolean;
  receipt: boolean;
  /** Money back (minor units, positive). */
  refunded: number;
  evidence: EvidenceRecord[];
}

export interface CurrencyTotal {
  currency: string;
  /** Minor units: paid out (completed deals), still pending (paid, outcome not final), refunded. */
  paid: number;
  pending: number;
  refunded: number;
  /** What was paid out (from the purse or an account): paid + pending − refunded. */
  net: number;
}

export interface Statement {
  chain: ChainState;
  /** The purchases shown (all, one month's, or one), oldest first, and their totals. */
  deals: StatementDeal[];
  totals: CurrencyTotal[];
  records: number;
  /** Every month (YYYY-MM, UTC) with a purchase, and the one shown (undefined: all of them). */
  months: string[];
  month?: string;
}

/** More purchases than this and the statement shows one month at a time (the latest by default). */
export const MAX_UNPAGED = 200;

export interface StatementOptions {
  /** CA roots: when given, each merchant certificate is validated against them. */
  trust?: TrustStore;
  /** Remembers signature and certificate checks across requests (the records never change). */
  memo?: CheckMemo;
  /** One deal only. */
  only?: string;
  /** One month only (YYYY-MM, UTC). */
  month?: string;
}

/**
 * What has been verified already, by the SHA-256 of what was verified and the key (or time) it
 * was verified under: a record's bytes never change, and a changed byte is another entry. ECDSA
 * verification is most of a statement's cost (3 per purchase); the memo makes a second look free.
 */
export class CheckMemo {
  private readonly seen = new Map<string, boolean>();
  constructor(private readonly max = 50_000) {}

  /** How many checks it remembers. */
  get size(): number {
    return this.seen.size;
  }

  check(what: Uint8Array, under: string, verify: () => boolean): boolean {
    const k = `${hex(sha256(what))}:${under}`;
    const known = this.seen.get(k);
    if (known !== undefined) return known;
    const ok = verify();
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.set(k, ok);
    return ok;
  }
}

/** What the page reads of a commerce `deal` record. */
interface DealView {
  role: string;
  peerName: string;
  peerKey?: Uint8Array;
  certificate?: Uint8Array;
  state: string;
  offer?: string;
  order?: string;
  exchange?: string;
  note?: string;
}

/** Deal states after which nothing moves any more (commerce/deal.ts). */
const FINAL_STATES = ['completed', 'failed'];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const text = (v: HostCbor | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function readDeal(r: ArchivedRecord): DealView | undefined {
  if (!r.evidence) return undefined;
  let m: HostCbor;
  try {
    m = decodeCanonical(r.evidence, COSE_LIMITS);
  } catch (_e) {
    return undefined;
  }
  if (!(m instanceof Map)) return undefined;
  const peer = m.get(3);
  const [name, key, cert] = Array.isArray(peer) ? peer : [];
  const role = text(m.get(2));
  const state = text(m.get(6));
  if (!role || !state || typeof name !== 'string') return undefined;
  const d: DealView = { role, peerName: name, state };
  if (key instanceof Uint8Array) d.peerKey = key;
  if (cert instanceof Uint8Array) d.certificate = cert;
  for (const [k, f] of [[8, 'offer'], [9, 'order'], [10, 'exchange'], [11, 'note']] as const) {
    const v = text(m.get(k));
    if (v !== undefined) d[f] = v;
  }
  return d;
}

/** verify() of the whole archive, as the page's banner states it. */
export async function chainState(archive: ArchiveStore): Promise<ChainState> {
  try {
    return { ok: true, report: await archive.verify() };
  } catch (e) {
    if (!(e instanceof ArchiveError)) throw e;
    return { ok: false, code: e.code, message: e.message, ...(e.seq !== undefined ? { seq: e.seq } : {}) };
  }
}

function merchantOf(d: DealView | undefined, fallback: string, at: number, trust: TrustStore | undefined, memo: CheckMemo): { merchant: Merchant; cert?: Certificate } {
  if (!d) return { merchant: { name: fallback, detail: 'no readable deal record: the name is the archive entry\u2019s, not checked against a certificate' } };
  if (!d.certificate) return { merchant: { name: d.peerName, detail: 'the deal record carries no certificate' } };
  let cert: Certificate;
  try {
    cert = decodeCertificate(d.certificate);
  } catch (_e) {
    return { merchant: { name: d.peerName, detail: 'the certificate in the deal record is malformed' } };
  }
  const problems: string[] = [];
  if (cert.name !== d.peerName) problems.push(`the certificate names ${cert.name}, the deal ${d.peerName}`);
  if (d.peerKey && hex(d.peerKey) !== hex(cert.publicKey)) problems.push('the deal\u2019s key is not the certificate\u2019s');
  if (cert.role !== 'merchant') problems.push(`the certificate is for a ${cert.role}, not a merchant`);
  let caVerified: boolean | undefined;
  if (trust) {
    let why = '';
    const bytes = d.certificate;
    caVerified = memo.check(bytes, `ca@${Math.floor(at / 1000)}`, () => {
      try {
        trust.validate(bytes, Math.floor(at / 1000), { roles: ['merchant'] });
        return true;
      } catch (e) {
        why = `: ${(e as Error).message}`;
        return false;
      }
    });
    if (!caVerified) problems.push(`the certificate does not validate against your CA${why}`);
  }
  const detail = problems.length ? problems.join('; ') : trust ? 'certificate issued by your CA, valid at the time of purchase' : 'certificate read from the deal (no CA configured on this page to check it again)';
  return { merchant: { name: cert.name, ...(caVerified !== undefined ? { caVerified } : {}), detail }, cert };
}

/** A COSE_Sign1 under `key` (the merchant's): valid / invalid; not a COSE_Sign1: invalid. */
function signedBy(evidence: Uint8Array | undefined, key: Uint8Array | undefined, who: string, memo: CheckMemo): SignatureCheck {
  if (!evidence || evidence.length === 0) return { state: 'invalid', why: 'the record carries no document' };
  let s;
  try {
    s = decodeSign1(evidence);
  } catch (_e) {
    return { state: 'invalid', why: 'the document is not a COSE_Sign1' };
  }
  if (!key) return { state: 'unchecked', why: `${who}\u2019s key is not in the archive` };
  const sign1 = s;
  const ok = memo.check(evidence, hex(key), () => {
    try {
      verifyDecodedSign1(sign1, key);
      return true;
    } catch (_e) {
      return false;
    }
  });
  return ok ? { state: 'valid', by: who, why: `signed with ${who}\u2019s certified key` } : { state: 'invalid', by: who, why: `the signature does not verify under ${who}\u2019s certified key` };
}

function digestCheck(evidence: Uint8Array | undefined, expected: string | undefined, what: string): string {
  if (!expected) return '';
  return evidence && hex(sha256(evidence)) === expected ? `; its SHA-256 is the ${what} the deal names` : `; its SHA-256 is NOT the ${what} the deal names`;
}

/** Judges one record of a deal. `key`/`who`: the merchant's certified key and name. */
function check(r: ArchivedRecord, d: DealView | undefined, key: Uint8Array | undefined, who: string, memo: CheckMemo): SignatureCheck {
  switch (r.kind) {
    case 'offer': {
      const c = signedBy(r.evidence, key, who, memo);
      const digest = digestCheck(r.evidence, d?.offer, 'offer');
      return { ...c, why: c.why + digest, ...(digest.includes('NOT') ? { state: 'invalid' as const } : {}) };
    }
    case 'order': {
      const digest = digestCheck(r.evidence, d?.order, 'order');
      return { state: digest.includes('NOT') ? 'invalid' : 'unsigned', why: `the order the device showed; the card signs its digest into the payment${digest}` };
    }
    case 'receipt': {
      if (r.label && /affidavit/.test(r.label)) return { state: 'unchecked', why: 'the third party\u2019s affidavit in place of the receipt; its key is in the exchange agreement, not checked here' };
      return signedBy(r.evidence, key, who, memo);
    }
    case 'payment-token':
      return { state: 'unchecked', why: 'signed by your card; the card\u2019s certificate is not in the archive — the merchant\u2019s bank checks it at deposit' };
    case 'ttp-decision':
      return { state: 'unchecked', why: 'signed by the third party; its key is in the exchange agreement, not checked here' };
    case 'deal':
      return { state: 'unsigned', why: 'your agent\u2019s record of the deal\u2019s state' };
    case 'refund':
    case 'deposit':
      return { state: 'unsigned', why: 'a booking of your agent' };
    default:
      return r.evidence ? { state: 'unchecked', why: 'an exchange message; checked when it was received' } : { state: 'unsigned', why: 'a note of your agent' };
  }
}

function outcomeOf(state: string, paid: boolean, refunded: number): Outcome {
  if (refunded > 0) return 'refunded';
  switch (state) {
    case 'completed':
      return paid ? 'paid' : 'pending';
    case 'failed':
      return paid ? 'failed' : 'refused';
    case 'disputed':
      return 'disputed';
    default:
      return 'pending';
  }
}

/** Purchases are deals with a buyer-role deal record, or a buyer's order (negative amount) without one. */
function isPurchase(recs: ArchivedRecord[], d: DealView | undefined): boolean {
  if (d) return d.role === 'buyer';
  return recs.some((r) => r.kind === 'order' && (r.amount ?? 0) < 0);
}

const monthOf = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

/**
 * The statement: every purchase, or one month's (`month`; the latest when there are more than
 * MAX_UNPAGED purchases and none is asked for), or one deal (`only`). Reads the archive once;
 * signatures are checked only for the purchases shown.
 */
export async function readStatement(archive: ArchiveStore, opts: StatementOptions = {}): Promise<Statement> {
  const memo = opts.memo ?? new CheckMemo();
  const chain = await chainState(archive);
  const all = await archive.list();
  const byDeal = new Map<string, ArchivedRecord[]>();
  for (const r of all) {
    if (!r.deal) continue;
    const list = byDeal.get(r.deal);
    if (list) list.push(r);
    else byDeal.set(r.deal, [r]);
  }
  // the purchases, cheaply: which deals, when, and their latest deal record
  const purchases: { id: string; recs: ArchivedRecord[]; last?: DealView }[] = [];
  for (const [id, recs] of byDeal) {
    const dealRecs = recs.filter((r) => r.kind === 'deal');
    const last = dealRecs.length ? readDeal(dealRecs[dealRecs.length - 1]) : undefined;
    if (isPurchase(recs, last)) purchases.push({ id, recs, ...(last ? { last } : {}) });
  }
  purchases.sort((a, b) => a.recs[0].time - b.recs[0].time);
  const months = [...new Set(purchases.map((p) => monthOf(p.recs[0].time)))];
  const month = opts.only !== undefined ? undefined : (opts.month ?? (purchases.length > MAX_UNPAGED ? months[months.length - 1] : undefined));
  const shown = purchases.filter((p) => (opts.only === undefined || p.id === opts.only) && (month === undefined || monthOf(p.recs[0].time) === month));
  const deals = shown.map((p) => purchaseOf(p.id, p.recs, p.last, byDeal, opts.trust, memo));
  return { chain, deals, totals: totalsOf(deals), records: all.length, months, ...(month ? { month } : {}) };
}

function purchaseOf(id: string, recs: ArchivedRecord[], last: DealView | undefined, byDeal: Map<string, ArchivedRecord[]>, trust: TrustStore | undefined, memo: CheckMemo): StatementDeal {
  // the exchange's own records (messages, third-party decisions) sit under the exchange id
  const exchangeRecs = last?.exchange && last.exchange !== id ? (byDeal.get(last.exchange) ?? []) : [];
  const offer = recs.find((r) => r.kind === 'offer');
  const order = recs.find((r) => r.kind === 'order');
  const { merchant, cert } = merchantOf(last, offer?.counterparty ?? order?.counterparty ?? 'unknown merchant', recs[0].time, trust, memo);
  const token = recs.find((r) => r.kind === 'payment-token');
  const refunded = recs.filter((r) => r.kind === 'refund' && (r.amount ?? 0) > 0).reduce((a, r) => a + (r.amount ?? 0), 0);
  const priced = order ?? offer;
  const key = cert?.publicKey ?? last?.peerKey;
  const evidence = [...recs, ...exchangeRecs].sort((a, b) => a.seq - b.seq).map((record) => ({ record, check: check(record, last, key, merchant.name, memo) }));
  // the exchange's last word: its final outcome, a third party's decision, or the step it is at
  const final = exchangeRecs[exchangeRecs.length - 1];
  return {
    id,
    time: recs[0].time,
    merchant,
    title: order?.label ?? offer?.label ?? '',
    ...(priced?.amount !== undefined && priced.currency ? { amount: { amount: Math.abs(priced.amount), currency: priced.currency } } : {}),
    outcome: outcomeOf(last?.state ?? (token ? 'paid' : 'ordered'), token !== undefined, refunded),
    state: last?.state ?? 'no deal record',
    ...(final?.label ? { exchange: final.label } : last?.exchange && !FINAL_STATES.includes(last.state) ? { exchange: 'exchange under way' } : {}),
    ...(last?.note ? { note: last.note } : {}),
    paymentMade: token !== undefined,
    receipt: recs.some((r) => r.kind === 'receipt'),
    refunded,
    evidence,
  };
}

/** Per currency: money paid (completed), pending (paid, not final), refunded. Refused deals cost nothing. */
export function totalsOf(deals: readonly StatementDeal[]): CurrencyTotal[] {
  const t = new Map<string, CurrencyTotal>();
  for (const d of deals) {
    if (!d.amount || !d.paymentMade) continue;
    const c = t.get(d.amount.currency) ?? { currency: d.amount.currency, paid: 0, pending: 0, refunded: 0, net: 0 };
    if (d.outcome === 'pending' || d.outcome === 'disputed') c.pending += d.amount.amount;
    else c.paid += d.amount.amount;
    c.refunded += d.refunded;
    c.net = c.paid + c.pending - c.refunded;
    t.set(c.currency, c);
  }
  return [...t.values()].sort((a, b) => a.currency.localeCompare(b.currency));
}
