// The link walk-through (npm run demo:link) must keep working: run it as a user would and check what it
// promises — handshake, HELLO, a typed error, every message through the hostile line.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const DEMO = join(ROOT, 'dist', 'demo', 'link-demo.js');

function run(args: string[]): { code: number; out: string } {
  if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: run \`npm run build\` first`);
  try {
    return { code: 0, out: execFileSync(process.execPath, [DEMO, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120000 }) };
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    return { code: x.status, out: x.stdout + x.stderr };
  }
}

test('npm run demo:link: the firmware and the host talk, and survive a hostile line', () => {
  const { code, out } = run(['--pings', '25']);
  expect(out).toContain('host → device  SYNC');
  expect(out).toMatch(/device → host {2}EVENT .*STATUS #0/);
  expect(out).toMatch(/→ firmware \d+\.\d+\.\d+ on PICO_R1_3, protocol v1/);
  expect(out).toContain('→ NO_CARD:');
  expect(out).toContain('→ 25/25 echoed intact');
  expect(out).toContain('Firmware uncaught errors: 0.');
  expect(code).toBe(0);
});

test('--help explains the options; a bad option says what to do', () => {
  expect(run(['--help']).out).toContain('usage: npm run demo:link');
  const bad = run(['--bogus']);
  expect(bad.code).toBe(2);
  expect(bad.out).toContain('unknown option --bogus (see --help)');
  expect(run(['--drop', '1.5']).out).toContain('--drop is a probability below 1');
});
