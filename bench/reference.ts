// The machine's own reference speeds, shared by the benches that compare against them in the
// same run: raw P-256 verifications per second; a bank's deposits per second — distinct
// card-signed tokens deposited at a `Bank` over a file with synchronous=FULL (token and
// certificate checks, double-spending lookup, ledger and deposit rows, the signed receipt and
// the stored answer, one durable commit each), the card's signing done before the clock runs;
// and the count of the curve operations a piece of work does, to price them alone.

import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { Bank, b64 } from '../host/src/bank/bank';
import { encodeCanonical, HostCbor } from '../shared/src/cbor';
import { issueCertificate, TrustStore } from '../shared/src/certificate';
import { signSign1 } from '../shared/src/cose';

/**
 * Counts this thread's P-256 signatures and verifications from now on, by wrapping the curve's
 * own functions; the originals are returned to time the same operations alone.
 */
export function countCurveOperations(): { counts: { sign: number; verify: number }; sign: (...a: unknown[]) => unknown; verify: (...a: unknown[]) => unknown } {
  const counts = { sign: 0, verify: 0 };
  const curve = p256 as unknown as { sign: (...a: unknown[]) => unknown; verify: (...a: unknown[]) => unknown };
  const sign = curve.sign.bind(p256);
  const verify = curve.verify.bind(p256);
  curve.sign = (...a) => (counts.sign++, sign(...a));
  curve.verify = (...a) => (counts.verify++, verify(...a));
  return { counts, sign, verify };
}

export function rate(n: number, ms: number): number {
  return (n * 1000) / ms;
}

/** Raw P-256 verifications per second over `ms`. */
export function rawVerifications(ms: number): number {
  const key = p256.utils.randomPrivateKey();
  const pub = p256.getPublicKey(key, false);
  const digest = sha256(new Uint8Array([4, 5, 6]));
  const sig = p256.sign(digest, key).toCompactRawBytes();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    p256.verify(sig, digest, pub, { prehash: false });
    n++;
  }
  return rate(n, performance.now() - t0);
}

/**
 * Deposits per second at a fresh bank in `dir` (file `file`): up to `count` distinct tokens of
 * one card, for at most `ms`. Throws if a deposit is refused or the books do not balance after.
 */
export function bankDepositRate(dir: string, o: { file?: string; count?: number; ms?: number } = {}): number {
  const caKey = p256.utils.randomPrivateKey();
  const caId = Uint8Array.of(0xca, 1);
  const root = issueCertificate({ name: 'Bench CA', publicKey: p256.getPublicKey(caKey, false), role: 'ca', subjectId: caId, issuerId: caId, notBefore: 0, notAfter: 4102444800, serial: 1 }, caKey);
  const trust = new TrustStore();
  trust.addRoot(root);
  const cardKey = p256.utils.randomPrivateKey();
  const cardId = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  const cardCertificate = b64(issueCertificate({ name: 'Bench card', publicKey: p256.getPublicKey(cardKey, false), role: 'buyer-card', subjectId: cardId, issuerId: caId, notBefore: 0, notAfter: 4102444800, serial: 2 }, caKey));
  const bank = Bank.open(join(dir, o.file ?? 'bank.db'), { issuerKey: p256.utils.randomPrivateKey(), issuerName: 'Bench Issuer', trust });
  try {
    bank.openAccount({ requestId: 'open', id: 'shop', kind: 'merchant', name: 'Shop', currency: 'EUR' });
    const count = o.count ?? 600;
    const token = (counter: number): string =>
      b64(signSign1(encodeCanonical(new Map<number | string, HostCbor>([[1, cardId], [2, counter], [3, 'shop'], [4, [100, 'EUR']], [5, new Uint8Array(32).fill(3)], [6, 1_780_000_000]])), cardKey));
    const tokens = Array.from({ length: count }, (_, i) => token(i + 1));
    let n = 0;
    const t0 = performance.now();
    while (n < count && performance.now() - t0 < (o.ms ?? 3000)) {
      const a = bank.deposit({ requestId: `dep-${n}`, merchant: 'shop', token: tokens[n], cardCertificate });
      if (a.status !== 200) throw new Error(`deposit ${n}: ${JSON.stringify(a.body)}`);
      n++;
    }
    const deposits = rate(n, performance.now() - t0);
    if (!bank.audit().ok) throw new Error('the books do not balance after the deposits');
    return deposits;
  } finally {
    bank.close();
  }
}
