// npm start — the main job — as a person runs it: the compiled program starts the whole world
// on free ports, prints where the shop and the device are, serves them, and stops on SIGINT;
// bad options say what to do.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const DEMO = join(ROOT, 'dist', 'demo', 'shop-demo.js');
jest.setTimeout(90_000);

function runQuick(args: string[]): { code: number; out: string } {
  if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: run \`npm run build\` first`);
  try {
    return { code: 0, out: execFileSync(process.execPath, [DEMO, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, stdio: 'pipe' }) };
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    return { code: x.status, out: x.stdout + x.stderr };
  }
}

test('npm start brings up the world, prints the shop and the device, serves them, and stops on Ctrl-C', async () => {
  const data = mkdtempSync(join(tmpdir(), 'shop-demo-test-'));
  const child = spawn(process.execPath, [DEMO, '--shop-port', '0', '--agent-port', '0', '--device-port', '0', '--data', data], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    for (const t0 = Date.now(); !/Ctrl-C stops everything/.test(out); await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() - t0 > 60_000 || child.exitCode !== null) throw new Error(`the demo did not come up:\n${out}`);
    }
    const shop = /Open the shop: +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] as string;
    const device = /Open the payment device: +(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1] as string;
    expect(shop).toBeDefined();
    expect(device).toBeDefined();
    const page = await fetch(shop);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('SEMPER Demo Shop');
    const state = (await (await fetch(`${device}/api/state`)).json()) as { card: boolean; power: boolean };
    expect(state).toMatchObject({ card: true, power: true });
    expect(out).toMatch(/card of Erika Mustermann.*PIN 1234/);
    // the CA is on-line: its root certificate is served
    const ca = /CA \/ RA +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] as string;
    const root = await fetch(`${ca}/v1/root`);
    expect([root.status, root.headers.get('content-type')]).toEqual([200, 'application/cbor']);
    expect(out).toContain(`data folder     ${data}`);
  } finally {
    child.kill('SIGINT');
  }
  expect(await exited).toBe(0);
  expect(out).toContain('Stopping…');
  // the databases stay for reading after the run
  expect(readdirSync(data).sort()).toEqual(expect.arrayContaining(['bank.db', 'buyer.db', 'ca.db', 'catalogue.db', 'seller.db', 'ttp.db']));
  rmSync(data, { recursive: true, force: true });
});

test('--help explains the demo; a bad option or port says what to do', () => {
  const help = runQuick(['--help']);
  expect(help.code).toBe(0);
  expect(help.out).toContain('usage: npm start');
  expect(help.out).toContain('PIN');
  const bad = runQuick(['--bogus']);
  expect(bad.code).toBe(2);
  expect(bad.out).toMatch(/Unknown option '--bogus'.*see npm start -- --help/);
  expect(runQuick(['--shop-port', '99999']).out).toContain('--shop-port must be 0..65535');
  expect(runQuick(['--baud', 'fast']).out).toContain('--baud is bits per second');
  const full = mkdtempSync(join(tmpdir(), 'shop-demo-full-'));
  writeFileSync(join(full, 'x'), '');
  expect(runQuick(['--data', full]).out).toContain('is not empty');
  rmSync(full, { recursive: true, force: true });
});
