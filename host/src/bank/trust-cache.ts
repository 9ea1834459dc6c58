// The bank validates the same card certificate at every deposit of that card: the chain's
// signatures are the same work each time, and with the token's own signature they would
// make a deposit cost two P-256 verifications instead of one. This cache remembers a chain
// that validated — for a short while only (CACHE_MS of bank time), because the trust store may
// learn a revocation list later — and re-checks on every hit what can change with time: the
// validity window of every certificate in the chain, and the roles asked for.

import { sha256 } from '@noble/hashes/sha256';
import { Certificate, CertificateError, TrustStore, ValidateOptions } from '../../../shared/src/certificate';

/** How long a validated chain is taken on trust again (ms of bank time): a revocation list added to the store applies after at most this. */
export const CACHE_MS = 60_000;
const MAX_ENTRIES = 10_000;

interface Entry {
  chain: Certificate[];
  /** Bank time (ms) the chain was validated at. */
  checked: number;
}

export class ValidatedChains {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly trust: TrustStore,
    private readonly nowMs: () => number,
  ) {}

  /** TrustStore.validate, from the cache when this chain validated in the last CACHE_MS. */
  validate(end: Uint8Array, at: number, opts: ValidateOptions = {}): Certificate[] {
    const h = sha256.create().update(end);
    for (const c of opts.intermediates ?? []) h.update(sha256(c));
    const key = Buffer.from(h.digest()).toString('hex');
    const hit = this.entries.get(key);
    const now = this.nowMs();
    if (hit && now - hit.checked >= 0 && now - hit.checked < CACHE_MS) {
      if (opts.roles && !opts.roles.includes(hit.chain[0].role)) throw new CertificateError('WRONG_ROLE', `role ${hit.chain[0].role} not accepted here`);
      // time moves: every link must still be valid at `at` (else the store decides again)
      if (hit.chain.every((c) => (c.notBefore ?? 0) <= at && at <= (c.notAfter ?? -1))) return hit.chain;
    }
    const chain = this.trust.validate(end, at, opts);
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { chain, checked: now });
    return chain;
  }
}
