#!/usr/bin/env node
// Prints the branch coverage of the link decoders from jest's json-summary, with the goal.
import { readFileSync, existsSync } from 'node:fs';
const file = 'coverage/coverage-summary.json';
if (!existsSync(file)) {
  console.error(`coverage-report: ${file} missing — run jest with --coverage first`);
  process.exit(2);
}
const summary = JSON.parse(readFileSync(file, 'utf8'));
const DECODERS = ['protocol/src/cbor.ts', 'shared/src/cbor.ts', 'protocol/src/frame.ts', 'protocol/src/cobs.ts', 'protocol/src/schema.ts', 'protocol/src/codec.ts', 'protocol/src/messages.ts'];
let covered = 0;
let total = 0;
console.log('decoder branch coverage (goal ≥ 95%):');
for (const [path, s] of Object.entries(summary)) {
  const rel = path.replace(process.cwd() + '/', '');
  if (!DECODERS.includes(rel)) continue;
  covered += s.branches.covered;
  total += s.branches.total;
  console.log(`  ${rel.padEnd(26)} ${s.branches.pct.toFixed(1).padStart(5)}%  (${s.branches.covered}/${s.branches.total})`);
}
const pct = total ? (100 * covered) / total : 0;
console.log(`  ${'all decoders'.padEnd(26)} ${pct.toFixed(1).padStart(5)}%  goal ≥ 95%  ${pct >= 95 ? 'meets goal' : 'MISSES goal'}`);
