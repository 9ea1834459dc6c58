// npm run bench:host — the host agent's durable paths against the machine's own crypto speed,
// measured in the same run: raw P-256 verifications per second (the reference), archive
// appends per second with durability on (WAL, synchronous=FULL: each append is on disk
// before it returns), the cost of one COSE_Sign1 verification, and bank deposits per second
// (a card-signed token checked — certificate chain and signature — and credited, the ledger
// row, the deposit row, the signed receipt and the stored answer committed with
// synchronous=FULL). Figures, not pass/fail.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { SqliteArchive } from '../host/src/services/archive';
import { signSign1, verifySign1 } from '../shared/src/cose';
import { bankDepositRate, rate, rawVerifications } from './reference';

function row(name: string, value: string, goal: string): void {
  console.log(`  ${name.padEnd(60)} ${value.padStart(14)}   goal ${goal}`);
}

async function main(): Promise<void> {
  console.log('SEMPER host agent: durable and cryptographic paths\n');
  const key = p256.utils.randomPrivateKey();
  const pub = p256.getPublicKey(key, false);
  const verifies = rawVerifications(1500);
  row('raw P-256 verifications per second', verifies.toFixed(0), 'reference for the ratios');

  const signed = signSign1(new Uint8Array(200).fill(7), key);
  let n = 0;
  let t0 = performance.now();
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
    bankDeposits(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Bank deposits against raw verifications measured just before and just after (the mean): on
 * a shared machine the CPU the two get must be the same for the ratio to mean anything.
 */
function bankDeposits(dir: string): void {
  const before = rawVerifications(1000);
  const deposits = bankDepositRate(dir);
  const verifies = (before + rawVerifications(1000)) / 2;
  row('bank deposits per second (verify + store, synchronous=FULL)', deposits.toFixed(0), '≥ 0.5 × raw');
  row('  raw P-256 verifications per second around them', verifies.toFixed(0), 'reference');
  row('  ratio to raw', (deposits / verifies).toFixed(2), '≥ 0.5');
}

void main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench:host: ${(e as Error).message}`);
    process.exit(1);
  },
);
