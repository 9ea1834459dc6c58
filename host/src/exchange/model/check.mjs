#!/usr/bin/env node
// Model-checks the fair-exchange protocols (../PROTOCOLS.md) with SPIN: for each model and each
// variant (the correct one and the deliberately broken ones, chosen by a -D macro) it generates
// pan with spin, compiles it with gcc and runs the exhaustive search for each property, then
// prints one row per run. Exits 1 when a correct model fails a property or a broken variant is
// NOT caught on the property it breaks; 2 when spin or gcc is missing or a search is incomplete.
// What the models contain and why: README.md beside this file.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

/** Safety properties are `[] p` claims; timeliness is `<> p`, searched for accepting cycles under
 * weak fairness (pan -a -f): without it, a run in which T or the clock is never scheduled again
 * would count as an honest party that never finishes. */
const SAFETY = ['fair_O', 'fair_R', 'consistent_T'];
const LIVENESS = ['term_O', 'term_R'];
const PROPERTIES = [...SAFETY, ...LIVENESS];
/** Reachability witnesses, `[] !goal`: on the correct models each must have a counterexample — the
 * situation it names occurs — or the proofs above could hold only because it never does. */
const isWitness = (property) => property.startsWith('reach_');

/** Each broken variant and the property it must break. */
const MODELS = {
  'gen-ev': {
    file: 'gen-ev.pml',
    witnesses: ['reach_optimistic', 'reach_resolved', 'reach_expired'],
    variants: [
      { bug: 'BUG_NO_BINDING', breaks: 'fair_O', what: 'T accepts evidence bound to another exchange (Shmatikov–Mitchell replay on ASW)' },
      { bug: 'BUG_T_NO_DEADLINE', breaks: 'consistent_T', what: 'T resolves after the deadline' },
      { bug: 'BUG_T_VOLATILE', breaks: 'fair_O', what: 'T keeps its decisions in memory only and forgets them in a crash' },
      { bug: 'BUG_T_NO_VERIFY', breaks: 'fair_O', what: 'T resolves without checking that R’s evidence verifies' },
      { bug: 'BUG_O_EARLY', breaks: 'fair_O', what: 'O sends its item before checking R’s' },
      { bug: 'BUG_NO_TIMEOUT', breaks: 'term_R', what: 'R has no timeout: waits for O’s item forever' },
      { bug: 'BUG_T_EXPIRE_AFTER_RESOLVE', breaks: 'consistent_T', what: 'T looks at the deadline before its stored decision: expired after resolved' },
      { bug: 'BUG_R_NO_BINDING', breaks: 'fair_R', what: 'R takes O’s item of an earlier exchange as this one’s' },
    ],
  },
  'rev-rev': {
    file: 'rev-rev.pml',
    witnesses: ['reach_optimistic', 'reach_aborted', 'reach_completed'],
    variants: [
      { bug: 'BUG_PARTIAL_REFUND', breaks: 'fair_O', what: 'on abort T refunds only the transfers shown in the request' },
      { bug: 'BUG_T_ABORT_AFTER_COMPLETE', breaks: 'consistent_T', what: 'T aborts an exchange it already answered completed (after d)' },
      { bug: 'BUG_NO_TIMEOUT', breaks: 'term_R', what: 'R has no timeout: waits for O’s item forever' },
    ],
  },
};

const HELP = `usage: node host/src/exchange/model/check.mjs [options]
       npm run check:model [-- options]

Model-checks gen-ev/1 and rev-rev/1 (host/src/exchange/PROTOCOLS.md) with spin: every property
of the correct models must be proved, every broken variant caught on the property it breaks.
Exhaustive search only (pan -DCOLLAPSE; no bitstate, no depth cut).

options:
  --json                 print the results as JSON instead of a table
  --all                  check every property on the broken variants too (default: the one
                         each variant must break)
  --model NAME           only gen-ev or rev-rev
  --budget N             moves of a dishonest party (default 4; the models' BUDGET)
  --crashes N            crashes of T (default 2; the models' MAXCRASH)
  --jobs N               parallel pan builds (default: number of CPUs, at most 4)
  --dir DIR              read the .pml files from DIR instead of this folder (to check an
                         edited copy: the test suite checks that a weakened model fails)
  --trace M:VARIANT:P    print the counterexample of model M, variant (e.g. BUG_NO_BINDING,
                         or "correct"), property P as the events of the trail, and exit
  --help                 this text

exit status: 0 all as expected; 1 a correct property failed or a broken variant was not
caught; 2 spin/gcc missing, bad arguments, or a search that did not complete.`;

function parseArgs(argv) {
  const opts = { json: false, all: false, model: undefined, budget: 4, crashes: 2, jobs: Math.min(4, cpus().length || 1), trace: undefined, dir: here };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const count = (min) => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min || n > 9) throw new Error(`${a} takes an integer ${min}..9`);
      return n;
    };
    if (a === '--help' || a === '-h') opts.help = true;
    else if (a === '--json') opts.json = true;
    else if (a === '--all') opts.all = true;
    else if (a === '--model') {
      opts.model = value();
      if (!(opts.model in MODELS)) throw new Error(`unknown model ${opts.model} (gen-ev, rev-rev)`);
    } else if (a === '--budget') opts.budget = count(1);
    else if (a === '--crashes') opts.crashes = count(0);
    else if (a === '--jobs') opts.jobs = count(1);
    else if (a === '--dir') opts.dir = value();
    else if (a === '--trace') {
      const [model, variant, property] = value().split(':');
      const known = MODELS[model];
      if (!known || !(PROPERTIES.includes(property) || known.witnesses.includes(property)) || (variant !== 'correct' && !known.variants.some((v) => v.bug === variant))) {
        throw new Error(`--trace wants MODEL:VARIANT:PROPERTY, e.g. gen-ev:BUG_NO_BINDING:fair_O`);
      }
      opts.trace = { model, bug: variant === 'correct' ? undefined : variant, property };
    } else throw new Error(`unknown option ${a} (--help)`);
  }
  return opts;
}

/** What pan printed, as numbers; `complete` is false when the search was cut short. */
function parsePan(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : undefined;
  };
  const errors = num(/errors: (\d+)/);
  return {
    errors,
    stored: num(/(\d+) states, stored/),
    matched: num(/(\d+) states, matched/),
    depth: num(/depth reached (\d+)/),
    seconds: num(/elapsed time ([\d.e+-]+) seconds/),
    // a proof must be exhaustive: no truncated depth, no memory exhaustion
    complete: errors !== undefined && !/max search depth too small|out of memory|search not completed/.test(out),
    kind: /acceptance cycle/.test(out) ? 'acceptance cycle' : /assertion violated/.test(out) ? 'claim violated' : /invalid end state/.test(out) ? 'invalid end state' : undefined,
  };
}

function defines(bug, opts) {
  return [...(bug ? [`-D${bug}`] : []), `-DBUDGET=${opts.budget}`, `-DMAXCRASH=${opts.crashes}`];
}

/** spin -a and gcc in a fresh directory: pan for one model and variant. */
async function buildPan(model, bug, opts) {
  const dir = mkdtempSync(join(tmpdir(), `semper-model-${model}-`));
  // the models are copied beside pan: spin -t looks for the trail next to the model it is given
  for (const f of ['common.pml', MODELS[model].file]) copyFileSync(join(opts.dir, f), join(dir, f));
  const file = MODELS[model].file;
  try {
    await run('spin', ['-a', ...defines(bug, opts), file], { cwd: dir });
    // -O0: gcc takes twice as long at -O1 as the searches it would speed up
    await run('gcc', ['-O0', '-DCOLLAPSE', '-o', 'pan', 'pan.c'], { cwd: dir });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, file };
}

async function searchOne(dir, property, shortest = false) {
  // -i (iterative deepening to the shortest counterexample) exists for safety properties only
  const flags = LIVENESS.includes(property) ? ['-a', '-f'] : shortest ? ['-a', '-i'] : ['-a'];
  // -n: no unreached-code listing; -m: depth bound far above the models' (≈ 100), checked below
  const { stdout } = await run('./pan', [...flags, '-n', '-m100000', '-N', property], { cwd: dir, maxBuffer: 16 << 20 });
  return parsePan(stdout);
}

/** One model + variant: build, then every property asked for, in order. */
async function checkUnit(unit, opts) {
  const { dir } = await buildPan(unit.model, unit.bug, opts);
  try {
    const rows = [];
    for (const property of unit.properties) {
      const r = await searchOne(dir, property);
      const expectBroken = unit.bug !== undefined && property === unit.breaks;
      const found = (r.errors ?? 0) > 0;
      const witness = isWitness(property);
      let verdict;
      if (witness) verdict = found ? 'ok' : 'UNREACHABLE';
      else if (!r.complete) verdict = 'incomplete';
      else if (unit.bug === undefined) verdict = found ? 'FAILED' : 'ok';
      else if (expectBroken) verdict = found ? 'ok' : 'NOT CAUGHT';
      else verdict = 'info';
      const expected = witness ? 'reachable' : unit.bug === undefined ? 'proved' : expectBroken ? 'counterexample' : '-';
      const result = witness ? (found ? 'reachable' : 'unreachable') : found ? 'counterexample found' : 'proved';
      rows.push({ model: unit.model, variant: unit.bug ?? 'correct', property, expected, result, ...r, verdict });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pool(tasks, jobs) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  return results;
}

async function printTrace({ model, bug, property }, opts) {
  const { dir, file } = await buildPan(model, bug, opts);
  try {
    const r = await searchOne(dir, property, true);
    if (!r.errors) {
      console.log(`${model} ${bug ?? 'correct'} ${property}: proved (${r.stored} states) — no counterexample to show`);
      return 0;
    }
    const { stdout } = await run('spin', ['-t', ...defines(bug, opts), file], { cwd: dir, maxBuffer: 16 << 20 });
    console.log(`${model} ${bug ?? 'correct'} ${property}: ${r.kind}`);
    for (const line of stdout.split('\n')) {
      if (line.includes('@ ')) console.log('  ' + line.trim().slice(2));
      else if (line.includes('START OF CYCLE')) console.log('  -- from here the run repeats forever --');
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds of the finished child processes (spin, gcc, pan) — Linux /proc; the wall time
 * depends on what else the machine runs, this does much less. Undefined elsewhere. */
function childCpuSeconds() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[13], fields[14]: cutime, cstime in clock ticks (USER_HZ, 100 on Linux)
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return undefined;
  }
}

function table(rows) {
  const head = ['model', 'variant', 'property', 'result', 'stored', 'matched', 'depth', 'time s', 'check'];
  const cells = rows.map((r) => [r.model, r.variant, r.property, r.result, String(r.stored), String(r.matched), String(r.depth), (r.seconds ?? 0).toFixed(2), r.verdict]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((s, i) => (i >= 4 && i <= 7 ? s.padStart(width[i]) : s.padEnd(width[i]))).join('  ').trimEnd();
  return [line(head), line(width.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`check: ${e.message}`);
    return 2;
  }
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  for (const [tool, args] of [['spin', ['-V']], ['gcc', ['--version']]]) {
    try {
      await run(tool, args);
    } catch {
      console.error(`check: ${tool} not found — install it (Debian: apt-get install -y spin gcc)`);
      return 2;
    }
  }
  if (opts.trace) return printTrace(opts.trace, opts);

  // the longest searches (timeliness under weak fairness) start first; each unit builds its own pan
  const models = Object.entries(MODELS).filter(([model]) => !opts.model || opts.model === model);
  const units = [
    ...models.map(([model]) => ({ model, bug: undefined, properties: LIVENESS })),
    ...models.map(([model, m]) => ({ model, bug: undefined, properties: [...SAFETY, ...m.witnesses] })),
    ...models.flatMap(([model, m]) => m.variants.map((v) => ({ model, bug: v.bug, breaks: v.breaks, properties: opts.all ? PROPERTIES : [v.breaks] }))),
  ];
  const started = Date.now();
  const order = (r) => [Object.keys(MODELS).indexOf(r.model), r.variant === 'correct' ? -1 : MODELS[r.model].variants.findIndex((v) => v.bug === r.variant), [...PROPERTIES, ...MODELS[r.model].witnesses].indexOf(r.property)];
  const byTable = (a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  };
  const rows = (await pool(units.map((u) => () => checkUnit(u, opts)), opts.jobs)).flat().sort(byTable);
  const wall = (Date.now() - started) / 1000;
  const bad = rows.filter((r) => r.verdict === 'FAILED' || r.verdict === 'NOT CAUGHT' || r.verdict === 'UNREACHABLE');
  const incomplete = rows.filter((r) => r.verdict === 'incomplete');
  const summary = {
    spin: (await run('spin', ['-V'])).stdout.trim(),
    budget: opts.budget,
    crashes: opts.crashes,
    proved: rows.filter((r) => r.variant === 'correct' && !isWitness(r.property) && r.verdict === 'ok').length,
    reachable: rows.filter((r) => isWitness(r.property) && r.verdict === 'ok').length,
    caught: rows.filter((r) => r.variant !== 'correct' && r.verdict === 'ok').length,
    variants: models.reduce((n, [, m]) => n + m.variants.length, 0),
    states: rows.reduce((n, r) => n + (r.stored ?? 0), 0),
    searchSeconds: rows.reduce((n, r) => n + (r.seconds ?? 0), 0),
    cpuSeconds: childCpuSeconds(),
    seconds: wall,
    failures: bad.length,
    incomplete: incomplete.length,
  };
  if (opts.json) console.log(JSON.stringify({ summary, rows }, null, 2));
  else {
    console.log(table(rows));
    console.log(
      `\n${summary.spin}; dishonest budget ${opts.budget}, T crashes ${opts.crashes}\n` +
        `${summary.proved} properties proved on the correct models (${summary.reachable} witnesses reached), ` +
        `${summary.caught} of ${summary.variants} broken variants caught; ` +
        `${summary.states} states stored in all; ${wall.toFixed(1)} s wall` +
        (summary.cpuSeconds === undefined ? '' : `, ${summary.cpuSeconds.toFixed(1)} s CPU (spin, gcc and pan)`),
    );
    for (const r of bad) console.log(`FAIL: ${r.model} ${r.variant} ${r.property}: ${r.verdict}`);
    for (const r of incomplete) console.log(`INCOMPLETE: ${r.model} ${r.variant} ${r.property}: the search did not finish`);
  }
  return incomplete.length ? 2 : bad.length ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  // spin or gcc rejected a model (a syntax error in an edited copy, an unknown macro, …)
  const detail = [e.stdout, e.stderr].filter(Boolean).join('\n').trim();
  console.error(`check: ${e.cmd ?? e.message} failed${detail ? `:\n${detail}` : ''}`);
  process.exitCode = 2;
}
