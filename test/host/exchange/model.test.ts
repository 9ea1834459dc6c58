// The fair-exchange protocols model-checked with spin (host/src/exchange/model/): every property of
// gen-ev/1 and rev-rev/1 proved by an exhaustive search, every deliberately broken variant caught
// on the property it breaks, and the checker shown able to fail on a weakened copy of the model.
// Needs spin and gcc (CI installs spin in .ci/run); without them the suite is skipped and says so.

import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const modelDir = join(root, 'host', 'src', 'exchange', 'model');
const checker = join(modelDir, 'check.mjs');

const installed = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const tools = installed('spin', ['-V']) && installed('gcc', ['--version']);

interface Row {
  model: string;
  variant: string;
  property: string;
  result: string;
  errors: number;
  stored: number;
  matched: number;
  depth: number;
  complete: boolean;
  kind?: string;
  verdict: string;
}
interface Report {
  summary: { proved: number; reachable: number; caught: number; variants: number; failures: number; incomplete: number; states: number };
  rows: Row[];
}

function check(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [checker, ...args], { maxBuffer: 16 << 20, timeout: 600_000 }, (error, out, err) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, out, err });
    });
  });
}

const PROPERTIES = ['fair_O', 'fair_R', 'consistent_T', 'term_O', 'term_R'];
const WITNESSES: Record<string, string[]> = {
  'gen-ev': ['reach_optimistic', 'reach_resolved', 'reach_expired'],
  'rev-rev': ['reach_optimistic', 'reach_aborted', 'reach_completed'],
};
// [model, variant, the property it must break] — the list, plus two more
const BROKEN: [string, string, string][] = [
  ['gen-ev', 'BUG_NO_BINDING', 'fair_O'], // Shmatikov–Mitchell replay on Asokan–Shoup–Waidner
  ['gen-ev', 'BUG_T_NO_DEADLINE', 'consistent_T'],
  ['gen-ev', 'BUG_T_VOLATILE', 'fair_O'],
  ['gen-ev', 'BUG_T_NO_VERIFY', 'fair_O'],
  ['gen-ev', 'BUG_O_EARLY', 'fair_O'],
  ['gen-ev', 'BUG_NO_TIMEOUT', 'term_R'],
  ['gen-ev', 'BUG_T_EXPIRE_AFTER_RESOLVE', 'consistent_T'],
  ['gen-ev', 'BUG_R_NO_BINDING', 'fair_R'],
  ['rev-rev', 'BUG_PARTIAL_REFUND', 'fair_O'],
  ['rev-rev', 'BUG_T_ABORT_AFTER_COMPLETE', 'consistent_T'],
  ['rev-rev', 'BUG_NO_TIMEOUT', 'term_R'],
];

describe('model checker command line (no spin needed)', () => {
  it('--help explains itself and exits 0; a bad option exits 2', async () => {
    const help = await check('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: node host\/src\/exchange\/model\/check\.mjs/);
    expect(help.out).toContain('--trace M:VARIANT:P');
    const bad = await check('--budget', 'lots');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--budget takes an integer');
    expect((await check('--trace', 'gen-ev:BUG_NONE:fair_O')).code).toBe(2);
  });
});

(tools ? describe : describe.skip)('fair-exchange models checked with spin', () => {
  let report: Report;
  const row = (model: string, variant: string, property: string): Row => {
    const found = report.rows.find((r) => r.model === model && r.variant === variant && r.property === property);
    if (!found) throw new Error(`no row for ${model} ${variant} ${property}`);
    return found;
  };

  beforeAll(async () => {
    const r = await check('--json');
    if (r.code !== 0) throw new Error(`check.mjs exited ${r.code}\n${r.out}\n${r.err}`);
    report = JSON.parse(r.out) as Report;
  }, 600_000);

  it.each(['gen-ev', 'rev-rev'])('%s: fairness for O and R, T consistency and timeliness proved by exhaustive search', (model) => {
    for (const property of PROPERTIES) {
      const r = row(model, 'correct', property);
      expect({ property, result: r.result, errors: r.errors, complete: r.complete }).toEqual({ property, result: 'proved', errors: 0, complete: true });
      expect(r.stored).toBeGreaterThan(1000);
      expect(r.depth).toBeGreaterThan(20);
    }
  });

  it.each(['gen-ev', 'rev-rev'])('%s: the witnesses are reached (the proofs are not vacuous)', (model) => {
    for (const property of WITNESSES[model]) expect([property, row(model, 'correct', property).result]).toEqual([property, 'reachable']);
  });

  it.each(BROKEN)('%s %s is caught on %s', (model, variant, property) => {
    const r = row(model, variant, property);
    expect(r.result).toBe('counterexample found');
    expect(r.errors).toBeGreaterThan(0);
    expect(r.kind).toBe(property.startsWith('term_') ? 'acceptance cycle' : 'claim violated');
  });

  it('sums up: nothing failed, every variant caught', () => {
    expect(report.summary).toMatchObject({ proved: 10, reachable: 6, caught: BROKEN.length, variants: BROKEN.length, failures: 0, incomplete: 0 });
  });

  it('--trace shows the replay: evidence of the previous exchange accepted for the new one', async () => {
    const r = await check('--trace', 'gen-ev:BUG_NO_BINDING:fair_O');
    expect(r.code).toBe(0);
    const events = r.out.split('\n').map((l) => l.trim());
    expect(events).toContain('O honest, R dishonest');
    expect(events).toContain('R (dishonest) resolves exchange 1 at T with evidence of exchange 0, valid 1');
    expect(events).toContain('T answers R RESOLVED on exchange 1');
    expect(events).toContain("O gets resolved with R's evidence (exchange 0, valid 1): done");
  }, 120_000);

  it('fails on a weakened model: R without its timeout, and the no-timeout bug gone, and a witness lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'semper-model-test-'));
    try {
      for (const f of ['common.pml', 'gen-ev.pml', 'rev-rev.pml']) copyFileSync(join(modelDir, f), join(dir, f));
      // one edit does both: the correct model loses R's timeout, the broken variant gets it back
      const flip = (name: string, from: string, to: string): void => {
        const file = join(dir, name);
        const text = readFileSync(file, 'utf8');
        expect(text.split(from).length).toBe(2);
        writeFileSync(file, text.replace(from, to));
      };
      flip('gen-ev.pml', '#ifndef BUG_NO_TIMEOUT', '#ifdef BUG_NO_TIMEOUT');
      flip('common.pml', '#ifdef BUG_NO_TIMEOUT', '#ifndef BUG_NO_TIMEOUT');
      const r = await check('--dir', dir, '--model', 'gen-ev', '--budget', '2', '--crashes', '1', '--json');
      expect(r.code).toBe(1);
      const weakened = JSON.parse(r.out) as Report;
      const find = (variant: string, property: string) => weakened.rows.find((x) => x.variant === variant && x.property === property);
      expect(find('correct', 'term_R')).toMatchObject({ result: 'counterexample found', kind: 'acceptance cycle', verdict: 'FAILED' });
      expect(find('correct', 'fair_R')).toMatchObject({ result: 'proved', verdict: 'ok' });
      expect(find('BUG_NO_TIMEOUT', 'term_R')).toMatchObject({ result: 'proved', verdict: 'NOT CAUGHT' });
      expect(find('BUG_NO_BINDING', 'fair_O')).toMatchObject({ result: 'counterexample found', verdict: 'ok' });
      // and the witness that needs R's resolve is no longer reached
      expect(find('correct', 'reach_resolved')).toMatchObject({ result: 'unreachable', verdict: 'UNREACHABLE' });
      expect(weakened.summary.failures).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

if (!tools) {
  test.skip('fair-exchange models: spin or gcc not installed (apt-get install -y spin gcc) — skipped', () => undefined);
}
