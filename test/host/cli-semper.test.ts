// `semper` as a user runs it: the built dispatcher (dist/host/src/cli/semper.js, written by
// npm run build) in a child process — help at every level, suggestions for typos, exit codes.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distance, suggest } from '../../host/src/cli/semper';

const root = join(__dirname, '..', '..');
const bin = join(root, 'dist', 'host', 'src', 'cli', 'semper.js');

function semper(...argv: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...argv], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SEMPER_HOME: home } });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

let home = '';
beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first`);
  home = mkdtempSync(join(tmpdir(), 'semper-cli-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('semper (dispatcher)', () => {
  it('keeps its #!/usr/bin/env node line through the build and is the package bin', () => {
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(pkg.bin.semper).toBe('dist/host/src/cli/semper.js');
    expect(pkg.scripts.semper).toContain('node dist/host/src/cli/semper.js');
  });

  it('--help lists every command and exits 0', () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = semper(flag);
      expect(r.status).toBe(0);
      expect(r.out).toMatch(/^semper — /);
      for (const c of ['doctor', 'archive', 'bank', 'emulator', 'card', 'flash']) expect(r.out).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
  });

  it('without a command prints the help on stderr and exits 2', () => {
    const r = semper();
    expect(r.status).toBe(2);
    expect(r.err).toContain('usage: semper <command>');
  });

  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(semper('--version')).toMatchObject({ status: 0, out: `semper ${version}\n` });
  });

  it('suggests the closest command for a typo and exits 2', () => {
    const r = semper('docter');
    expect(r.status).toBe(2);
    expect(r.err).toContain("unknown command 'docter'. Did you mean 'semper doctor'?");
    expect(semper('arhcive').err).toContain("Did you mean 'semper archive'?");
    expect(semper('emu').err).toContain("Did you mean 'semper emulator'?");
    expect(semper('help', 'flsh').err).toContain("Did you mean 'semper flash'?");
    const far = semper('xyzzyplugh');
    expect(far.status).toBe(2);
    expect(far.err).not.toContain('Did you mean');
    expect(far.err).toContain('Commands: doctor, device, purse, cert, agent, archive, bank, ca, ttp, arbiter, emulator, card, flash');
  });

  it('refuses an option before the command', () => {
    const r = semper('--device', 'x');
    expect(r.status).toBe(2);
    expect(r.err).toContain('options go after the command');
  });

  it('suggest() and distance()', () => {
    expect(distance('kitten', 'sitting')).toBe(3);
    expect(distance('', 'abc')).toBe(3);
    expect(suggest('card')).toBe('card');
    expect(suggest('flas')).toBe('flash');
    expect(suggest('bnak')).toBe('bank');
    expect(suggest('qqqqqqqq')).toBeUndefined();
  });
});

describe('semper <command> --help', () => {
  // every command, and the subcommands issue 5 names: --help works at any depth
  const cases: [string, RegExp][] = [
    ['doctor', /^semper doctor — find the device/],
    ['device', /^semper device — the device: what it is/],
    ['device info', /^semper device — /],
    ['device balance', /^semper device — /],
    ['device log', /^semper device — /],
    ['purse', /^semper purse — the purse on the card/],
    ['purse load', /^semper purse — /],
    ['cert', /^semper cert — your card's certificate/],
    ['agent', /^semper agent — the buyer's agent/],
    ['agent start', /^semper agent — /],
    ['archive', /^semper archive — browse, export and verify/],
    ['archive list', /^semper archive — /],
    ['archive show', /^semper archive — /],
    ['archive export', /^semper archive — /],
    ['archive verify', /^semper archive — /],
    ['bank', /^semper bank — the bank/],
    ['bank start', /^semper bank — /],
    ['ca', /^semper ca — the certification authority/],
    ['ttp', /^semper ttp — the fair-exchange third party/],
    ['arbiter', /^semper arbiter — judge a dispute/],
    ['emulator', /^semper emulator — the device firmware running in the Espruino board emulator/],
    ['card', /^semper card — make and inspect emulated smart cards/],
    ['flash', /^semper flash — write the firmware into a board's flash/],
  ];
  it.each(cases)('%s --help prints its own help and exits 0', (cmd, first) => {
    const r = semper(...cmd.split(' '), '--help');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(first);
    expect(semper('help', cmd.split(' ')[0])).toMatchObject({ status: 0, out: r.out });
  });
});

describe('semper <command> exit codes pass through', () => {
  it('doctor: a bad option is 2', () => {
    const r = semper('doctor', '--bogus');
    expect(r.status).toBe(2);
    expect(r.err).toContain('semper doctor: bad option --bogus');
  });

  it('archive: an unknown subcommand is 2, a missing archive is 3', () => {
    expect(semper('archive', 'frobnicate').status).toBe(2);
    const r = semper('archive', 'list', '--db', join(home, 'none.db'));
    expect(r.status).toBe(3);
    expect(r.err).toContain('semper archive:');
  });

  it('card: show of a missing file is 2; new then show works', () => {
    expect(semper('card', 'show', join(home, 'nope.json'))).toMatchObject({ status: 2, err: expect.stringContaining('does not exist') });
    const file = join(home, 'card.json');
    const made = semper('card', 'new', '--out', file, '--holder', 'Test Holder', '--pin', '1234', '--puk', '12345678', '--balance', '700');
    expect(made.status).toBe(0);
    expect(made.out).toContain('for Test Holder: 700 minor units of EUR');
    const shown = semper('card', 'show', file);
    expect(shown.status).toBe(0);
    expect(shown.out).toContain('holder   Test Holder');
  });

  it('emulator: a bad option is 2', () => {
    const r = semper('emulator', '--bogus');
    expect(r.status).toBe(2);
    expect(r.err).toContain('emulator: unknown option --bogus');
  });

  it('flash: no --port is 2', () => {
    const r = semper('flash');
    expect(r.status).toBe(2);
    expect(r.err).toContain('--port is required');
  });
});
