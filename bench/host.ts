// npm run bench:host — the host agent's durable paths against the machine's own crypto speed,
// measured in the same run: raw P-256 verifications per second (the reference), archive
// appends per second with durability on (WAL, synchronous=FULL: each append is on disk
// before it returns), and the cost of one COSE_Sign1 verification. Figures, not pass/fail.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { SqliteArchive } from '../host/src/services/archive';
import { signSign1, verifySign1 } from '../shared/src/cose';

function rate(n: number, ms: number): number {
  return (n * 1000) / ms;
}

function row(name: string, value: string, goal: string): void {
  console.log(`  ${name.padEnd(52)} ${value.padStart(14)}   goal ${goal}`);
}

async function main(): Promise<void> {
  console.log('SEMPER host agent: durable and cryptographic paths\n');
  const key = p256.utils.randomPrivateKey();
  const pub = p256.getPublicKey(key, false);
  const digest = sha256(new Uint8Array([1, 2, 3]));
  const sig = p256.sign(digest, key).toCompactRawBytes();
  let n = 0;
  let t0 = performance.now();
  while (performance.now() - t0 < 1500) {
    p256.verify(sig, digest, pub, { prehash: false });
    n++;
  }
  const verifies = rate(n, performance.now() - t0);
  row('raw P-256 verifications per second', verifies.toFixed(0), 'reference for the ratios');

  const signed = signSign1(new Uint8Array(200).fill(7), key);
  n = 0;
  t0 = performance.now();
  while (performance.now() - t0 < 1500) {
    verifySign1(signed, pub);
    n++;
  }
  const cose = rate(n, performance.now() - t0);
  row('COSE_Sign1 verifications per second (decode + verify)', cose.toFixed(0), '≥ 0.8 × raw');
  row('  ratio to raw', (cose / verifies).toFixed(2), '≥ 0.8');

  const dir = mkdtempSync(join(tmpdir(), 'semper-bench-host-'));
  try {
    const archive = SqliteArchive.open(join(dir, 'archive.db'));
    const evidence = new Uint8Array(300).fill(9);
    n = 0;
    t0 = performance.now();
    while (performance.now() - t0 < 2000) {
      await archive.append({ kind: 'payment-token', deal: `deal-${n}`, counterparty: 'CD-ROM Versand GmbH', label: 'bench', amount: -1250, currency: 'EUR', evidence });
      n++;
    }
    const appends = rate(n, performance.now() - t0);
    row('archive appends per second (WAL, synchronous=FULL)', appends.toFixed(0), '≥ 200 (each on disk before it returns)');
    t0 = performance.now();
    const report = await archive.verify(); // throws ArchiveError naming the first bad record
    const ms = performance.now() - t0;
    row(`archive verify (${report.records} records in ${ms.toFixed(0)} ms), records/s`, rate(report.records, ms).toFixed(0), '≥ 2,000');
    archive.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench:host: ${(e as Error).message}`);
    process.exit(1);
  },
);
