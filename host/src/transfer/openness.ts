// Openness (SEMPER §3.6): service managers with pluggable modules, adapters that make an
// existing system look like a module, and negotiation of a common module between peers.
//
// - A module is identified by name and version ("device-purse/1"); a manager holds any
//   number of them, attached and detached at run time, and its preference order.
// - An adapter maps the interface of an existing product onto the manager's internal
//   interface (SPI); what comes out is an ordinary module.
// - Negotiation: each side offers its module references in preference order. The result
//   is the first reference in the INITIATOR's offer that the responder also offers (same
//   name, same version). Both sides compute it from the same two lists, so they agree;
//   no common module is a typed error (NO_COMMON_MODULE), never a silent fallback.

import { TransferError } from './errors';

/**
 * The exchange-enabling properties of a module's transfers (seed §3.4), declared by the module
 * for the exchange layer: externally verifiable (a third party can check the transfer happened
 * from its evidence), revocable (it can be undone, e.g. refunded), generateable (a third party
 * can produce the item, or an equivalent, in its place).
 */
export type ExchangeEnabling = 'externally-verifiable' | 'revocable' | 'generateable';

export interface ModuleInfo {
  /** Lower case, digits, '.', '-' (e.g. "device-purse"). */
  name: string;
  /** A positive integer; modules of another version are other modules. */
  version: number;
  /** The internal interface type (§3.6): e.g. "cash-like", "account-based", "signed-document". */
  type: string;
  /** Who made it (an adapter names the product it adapts). */
  vendor?: string;
  /** What its transfers offer the exchange layer; none declared = none offered. */
  enables?: readonly ExchangeEnabling[];
}

export interface ServiceModule {
  readonly info: ModuleInfo;
}

/** "name/version": what peers exchange when they negotiate. */
export type ModuleRef = string;

const NAME = /^[a-z0-9][a-z0-9.-]{0,63}$/;

export function moduleRef(info: Pick<ModuleInfo, 'name' | 'version'>): ModuleRef {
  return `${info.name}/${info.version}`;
}

export function parseModuleRef(ref: string): { name: string; version: number } {
  const m = /^([a-z0-9][a-z0-9.-]{0,63})\/([1-9][0-9]{0,5})$/.exec(ref);
  if (!m) throw new TransferError('MALFORMED', `not a module reference "name/version": ${JSON.stringify(ref).slice(0, 80)}`);
  return { name: m[1], version: Number(m[2]) };
}

/**
 * The module both sides use: the first of the initiator's offer (its preference order) that
 * the responder offers too. Offers are lists of "name/version"; duplicates and malformed
 * entries are refused, so both sides see the same input. NO_COMMON_MODULE when there is none.
 */
export function negotiate(initiatorOffer: readonly ModuleRef[], responderOffer: readonly ModuleRef[]): ModuleRef {
  checkOffer(initiatorOffer, 'initiator');
  const theirs = new Set(checkOffer(responderOffer, 'responder'));
  const hit = initiatorOffer.find((r) => theirs.has(r));
  if (hit === undefined) throw new TransferError('NO_COMMON_MODULE', `no common module: offered [${initiatorOffer.join(', ')}], accepted [${responderOffer.join(', ')}]`);
  return hit;
}

function checkOffer(offer: readonly ModuleRef[], who: string): readonly ModuleRef[] {
  if (!Array.isArray(offer) || offer.length > 64) throw new TransferError('MALFORMED', `the ${who}'s offer must be a list of at most 64 modules`);
  for (const r of offer) parseModuleRef(r);
  if (new Set(offer).size !== offer.length) throw new TransferError('MALFORMED', `the ${who}'s offer names a module twice`);
  return offer;
}

/** A service manager: the generic service (payment, statement, …) over its modules. */
export class ServiceManager<M extends ServiceModule> {
  private readonly modules = new Map<ModuleRef, M>();
  private preference: ModuleRef[] = [];

  constructor(readonly service: string) {}

  /** Attaches a module; it goes last in the preference order. DUPLICATE_MODULE if the name/version is taken. */
  register(m: M): this {
    const { name, version } = m.info;
    if (!NAME.test(name) || !Number.isSafeInteger(version) || version < 1 || version > 999999) throw new TransferError('MALFORMED', 'a module needs a name [a-z0-9.-] and a positive integer version');
    const ref = moduleRef(m.info);
    if (this.modules.has(ref)) throw new TransferError('DUPLICATE_MODULE', `${this.service}: module ${ref} is registered already`);
    this.modules.set(ref, m);
    this.preference.push(ref);
    return this;
  }

  /** Detaches a module. UNKNOWN_MODULE if it is not attached. */
  unregister(ref: ModuleRef): void {
    if (!this.modules.delete(ref)) throw new TransferError('UNKNOWN_MODULE', `${this.service}: no module ${ref}`);
    this.preference = this.preference.filter((r) => r !== ref);
  }

  /** The module `ref` ("name/version"), or with a bare name the highest version of it. UNKNOWN_MODULE. */
  get(ref: ModuleRef | string): M {
    const exact = this.modules.get(ref);
    if (exact) return exact;
    const same = [...this.modules.values()].filter((m) => m.info.name === ref).sort((a, b) => b.info.version - a.info.version);
    if (same.length === 0) throw new TransferError('UNKNOWN_MODULE', `${this.service}: no module ${ref}`);
    return same[0];
  }

  has(ref: ModuleRef): boolean {
    return this.modules.has(ref);
  }

  /** Sets the preference order; modules not named keep their relative order after those named. */
  prefer(refs: readonly ModuleRef[]): void {
    for (const r of refs) if (!this.modules.has(r)) throw new TransferError('UNKNOWN_MODULE', `${this.service}: no module ${r}`);
    const first = [...new Set(refs)];
    this.preference = [...first, ...this.preference.filter((r) => !first.includes(r))];
  }

  /** This side's offer: references in preference order, optionally only modules that pass `filter`. */
  offer(filter: (m: M) => boolean = () => true): ModuleRef[] {
    return this.preference.filter((r) => filter(this.modules.get(r)!));
  }

  /** Negotiates with a peer's offer; `role` says whose preference wins (the initiator's). Returns the module. */
  negotiate(peerOffer: readonly ModuleRef[], role: 'initiator' | 'responder', filter?: (m: M) => boolean): M {
    const mine = this.offer(filter);
    return this.get(role === 'initiator' ? negotiate(mine, peerOffer) : negotiate(peerOffer, mine));
  }

  list(): ModuleInfo[] {
    return this.preference.map((r) => ({ ...this.modules.get(r)!.info }));
  }
}

/**
 * An adapter (§3.6): wraps an existing system `E` so that it becomes a module `M` of a
 * manager. `info.vendor` should name the product adapted.
 */
export interface Adapter<E, M extends ServiceModule> {
  readonly info: ModuleInfo;
  adapt(existing: E): M;
}

/** Registers `existing` through `adapter` with `manager` and returns the module it became. */
export function attach<E, M extends ServiceModule>(manager: ServiceManager<M>, adapter: Adapter<E, M>, existing: E): M {
  const m = adapter.adapt(existing);
  if (moduleRef(m.info) !== moduleRef(adapter.info)) throw new TransferError('MALFORMED', 'the adapter made a module with another name or version than it declares');
  manager.register(m);
  return m;
}
