// Deals (seed §3.5): the security context a buyer's and a seller's agent share for one
// purchase — who the peer is (name, key, certificate), the security attributes every
// protocol of the deal must keep, the modules negotiated (workflow, payment instrument,
// exchange protocol) — and how far the deal has come. Persisted in the archive (kind `deal`,
// the latest record of a deal is its state), so an agent that restarts knows its open deals
// and finishes them (their exchanges resume through the exchange layer's recover()).

import { decodeCanonical, encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { COSE_LIMITS } from '../../../shared/src/cose';
import { ArchiveStore } from '../services/archive';
import { CommerceError } from './offer';

export const DEAL_STATES = ['open', 'ordered', 'paid', 'completed', 'failed', 'disputed'] as const;
export type DealState = (typeof DEAL_STATES)[number];
const FINAL: readonly DealState[] = ['completed', 'failed'];

export const DEAL_ATTRIBUTES = ['integrity', 'origin', 'confidentiality', 'receipt', 'anonymity'] as const;
export type DealAttribute = (typeof DEAL_ATTRIBUTES)[number];

export interface Deal {
  /** 32 hex characters: the order id of the purchase. */
  id: string;
  role: 'buyer' | 'seller';
  peer: { name: string; publicKey: Uint8Array; certificate?: Uint8Array };
  /** What every protocol of the deal must keep (anonymity: the buyer's name and keys never leave it). */
  attributes: DealAttribute[];
  /** The negotiated modules: workflow, payment instrument, exchange protocol, as far as known. */
  modules: { workflow?: string; payment?: string; exchange?: string };
  state: DealState;
  /** SHA-256 of the offer and the order (hex), the exchange that carries the payment. */
  offer?: string;
  order?: string;
  exchange?: string;
  /** Words: why it failed, what is pending. */
  note?: string;
  /** ms. */
  updated: number;
}

function encode(d: Deal): Uint8Array {
  const peer: HostCbor[] = [d.peer.name, d.peer.publicKey];
  if (d.peer.certificate) peer.push(d.peer.certificate);
  const m = new Map<number, HostCbor>([
    [1, d.id],
    [2, d.role],
    [3, peer],
    [4, d.attributes],
    [5, new Map<number, HostCbor>(Object.entries(d.modules).filter(([, v]) => v !== undefined).map(([k, v]) => [['workflow', 'payment', 'exchange'].indexOf(k) + 1, v as string]))],
    [6, d.state],
    [7, d.updated],
  ]);
  if (d.offer) m.set(8, d.offer);
  if (d.order) m.set(9, d.order);
  if (d.exchange) m.set(10, d.exchange);
  if (d.note) m.set(11, d.note);
  return encodeCanonical(m);
}

function decode(b: Uint8Array): Deal {
  const m = decodeCanonical(b, COSE_LIMITS);
  if (!(m instanceof Map)) throw new CommerceError('MALFORMED', 'a deal record is a map');
  const peer = m.get(3);
  const mods = m.get(5);
  const [name, publicKey, certificate] = Array.isArray(peer) ? peer : [];
  const id = m.get(1);
  const role = m.get(2);
  const state = m.get(6);
  const attributes = m.get(4);
  const updated = m.get(7);
  if (typeof id !== 'string' || (role !== 'buyer' && role !== 'seller') || typeof name !== 'string' || !(publicKey instanceof Uint8Array) || !(mods instanceof Map) || typeof state !== 'string' || !(DEAL_STATES as readonly string[]).includes(state) || !Array.isArray(attributes) || typeof updated !== 'number') {
    throw new CommerceError('MALFORMED', 'a deal record lacks its fields');
  }
  const text = (k: number): string | undefined => (typeof m.get(k) === 'string' ? (m.get(k) as string) : undefined);
  const mod = (k: number): string | undefined => (typeof mods.get(k) === 'string' ? (mods.get(k) as string) : undefined);
  const d: Deal = {
    id,
    role,
    peer: { name, publicKey, ...(certificate instanceof Uint8Array ? { certificate } : {}) },
    attributes: attributes.filter((a): a is DealAttribute => (DEAL_ATTRIBUTES as readonly HostCbor[]).includes(a)),
    modules: { ...(mod(1) ? { workflow: mod(1) } : {}), ...(mod(2) ? { payment: mod(2) } : {}), ...(mod(3) ? { exchange: mod(3) } : {}) },
    state: state as DealState,
    updated,
  };
  for (const [k, f] of [[8, 'offer'], [9, 'order'], [10, 'exchange'], [11, 'note']] as const) {
    const v = text(k);
    if (v !== undefined) d[f] = v;
  }
  return d;
}

/** The deals of one agent, in its archive. */
export class DealStore {
  constructor(
    private readonly archive: ArchiveStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a deal's new state (a final deal does not change any more: REFUSED). */
  async save(d: Omit<Deal, 'updated'>): Promise<Deal> {
    const before = await this.get(d.id);
    if (before && FINAL.includes(before.state) && before.state !== d.state) throw new CommerceError('REFUSED', `deal ${d.id} is ${before.state} already`);
    if (d.attributes.includes('anonymity') && d.attributes.includes('origin')) throw new CommerceError('MISMATCH', 'a deal cannot be anonymous and carry the buyer\u2019s non-repudiation of origin');
    const deal: Deal = { ...d, updated: this.now() };
    await this.archive.append({ kind: 'deal', deal: d.id, counterparty: d.peer.name, label: `deal ${d.state}`, evidence: encode(deal), ...(d.note ? { note: d.note } : {}) });
    return deal;
  }

  /** Moves a deal on: `changes` over its current state. NOT_FOUND for an unknown deal. */
  async update(id: string, changes: Partial<Omit<Deal, 'id' | 'role' | 'updated'>>): Promise<Deal> {
    const d = await this.get(id);
    if (!d) throw new CommerceError('NOT_FOUND', `no deal ${id}`);
    return this.save({ ...d, ...changes, modules: { ...d.modules, ...(changes.modules ?? {}) } });
  }

  async get(id: string): Promise<Deal | undefined> {
    const recs = await this.archive.list({ deal: id, kind: 'deal' });
    const last = recs[recs.length - 1];
    return last?.evidence ? decode(last.evidence) : undefined;
  }

  /** Every deal's current state (optionally only the open ones: not completed, not failed). */
  async list(opts: { open?: boolean } = {}): Promise<Deal[]> {
    const latest = new Map<string, Deal>();
    for (const r of await this.archive.list({ kind: 'deal' })) if (r.deal && r.evidence) latest.set(r.deal, decode(r.evidence));
    const all = [...latest.values()];
    return opts.open ? all.filter((d) => !FINAL.includes(d.state)) : all;
  }
}
