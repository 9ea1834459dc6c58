// tools/flash/flash.mjs (npm run flash) as a user runs it, in a child process. The espruino CLI
// is replaced by a fake ($ESPRUINO_CLI) that records its arguments and answers like a board would;
// test/tools/flash-board.test.ts runs the real EspruinoTools against a fake board when it is
// installed.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { pretokenise } from '../../tools/pretokenise.cjs';

const root = join(__dirname, '..', '..');
const flash = join(root, 'tools', 'flash', 'flash.mjs');
let dir = '';
let good = '';
let bad = '';
let split = '';
const RESOURCES = { 'semper.font.abc123': '\x00\xfe\x82"\\x41', 'semper.lang.en.abc123': '\nkey=M\xfcller' };
let fakeCli = '';
let log = '';

// answers each of flash.mjs's three steps; FAKE_MODE picks a misbehaviour
const FAKE = `
import { appendFileSync, readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
const a = process.argv.slice(2);
appendFileSync(process.env.FAKE_LOG, JSON.stringify({ argv: a, cwd: process.cwd() }) + '\\n');
const mode = process.env.FAKE_MODE || 'ok';
const e = a[a.indexOf('-e') + 1];
console.log('0.1.67');
console.log('--] >' + e); // the board echoes what it was sent
if (mode === 'locked') process.exit(0);
if (e.includes('-PROBE')) console.log('--] SEMPER-PROBE BOARD=' + (mode === 'otherboard' ? 'PIXLJS' : 'PICO_R1_3') + ' VERSION=2v29 FREE=' + (mode === 'full' ? 100 : 200000) + ' OLD=0');
else if (e.includes('-VERIFY')) {
  // one line per --storage file, as the board prints them: .bootcde first
  const files = a.filter((x, i) => a[i - 1] === '--storage');
  files.forEach((s, i) => {
    const b = readFileSync(s.slice(s.indexOf(':') + 1));
    const bad = (mode === 'badcrc' && i === 0) || (mode === 'badfile' && i === 2) ? 1 : 0;
    console.log('--] SEMPER-VERIFY' + (i ? '-FILE N=' + i : '') + ' SIZE=' + b.length + ' CRC=' + ((crc32(b) ^ bad) >>> 0));
  });
}
`;

function run(argv: string[], env: Record<string, string> = {}): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [flash, ...argv], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ESPRUINO_CLI: fakeCli, FAKE_LOG: log, ...env } });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
const calls = (): { argv: string[]; cwd: string }[] =>
  existsSync(log)
    ? readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { argv: string[]; cwd: string })
    : [];

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'tools', 'bundle-check', 'cli.js'))) throw new Error('run npm run build first (the bundle checker is in dist/)');
  dir = mkdtempSync(join(tmpdir(), 'semper-flash-'));
  good = join(dir, 'firmware.js');
  // 1000 bytes (a little less pretokenised): three 384-byte chunks
  writeFileSync(good, `(function(){var a=${JSON.stringify('x'.repeat(957))};print(a.length);})();\n`);
  // a bundle whose first line carries resource files, as tools/build.mjs writes firmware.js
  split = join(dir, 'split.js');
  const lit = (t: string): string => '"' + t.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === '\\' ? '\\' + c : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'))) + '"';
  const installer = '/*semper-resources*/(function(S,f){for(var n in f)if(S.read(n)!==f[n])S.write(n,f[n]);})(require("Storage"),{' + Object.entries(RESOURCES).map(([n, d]) => lit(n) + ':' + lit(d)).join(',') + '});\n';
  writeFileSync(split, Buffer.from(installer + '(function(){print(1);})();\n', 'latin1'));
  bad = join(dir, 'bad.js');
  writeFileSync(bad, '(function(){var o={a:1};const {a}=o;print(a);})();\n');
  fakeCli = join(dir, 'fake-espruino.mjs');
  writeFileSync(fakeCli, FAKE);
  log = join(dir, 'calls.jsonl');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => rmSync(log, { force: true }));

describe('npm run flash', () => {
  it('--help explains the options, the steps and the console lock', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^semper flash — write the firmware into a board's flash/);
    for (const s of ['--port PATH', '--board NAME', '--dry-run', '.bootcde', 'E.CRC32', 'BTN1', 'device/FLASHING.md']) expect(r.out).toContain(s);
  });

  it('--dry-run prints the Storage file, its size and CRC32 and the exact commands, and runs nothing', () => {
    // .bootcde is the bundle pretokenised: `function`, `var`, `=>`… as Espruino's one-byte tokens
    const bytes = Buffer.from(pretokenise(readFileSync(good, 'latin1')), 'latin1');
    expect(bytes.length).toBeLessThan(readFileSync(good).length);
    expect(bytes.length).toBeGreaterThan(768);
    const crc = zlibCrc32(bytes) >>> 0;
    const out = join(dir, 'sent.js');
    const r = run(['--dry-run', '--bundle', good, '--port', '/dev/ttyACM9', '--out', out]);
    expect(r.status).toBe(0);
    expect(r.out).toContain(`Storage file  .bootcde  ${bytes.length} bytes  CRC32 0x${crc.toString(16).padStart(8, '0')}`);
    expect(r.out).toContain(`bundle check passed`);
    expect(r.out).toContain('-p /dev/ttyACM9 --no-ble -e');
    expect(r.out).toContain('--storage .bootcde:bootcde.js -e');
    expect(r.out).toContain("-e 'setTimeout(load,1000)'");
    expect(r.out).toContain('sends 3 Storage.write calls (384 bytes each, base64)');
    expect(r.out).toContain(`expects SIZE=${bytes.length} CRC=${crc}`);
    expect(calls()).toEqual([]); // the espruino CLI never ran
    // --out: exactly what EspruinoTools' --storage sends, then the check
    const sent = readFileSync(out, 'latin1').trimEnd().split('\n');
    expect(sent).toHaveLength(4);
    expect(sent[0]).toMatch(new RegExp(`^require\\("Storage"\\)\\.write\\("\\.bootcde",atob\\("[A-Za-z0-9+/=]+"\\),0,${bytes.length}\\)$`));
    expect(sent[2]).toMatch(/,768\)$/);
    const decoded = Buffer.concat(sent.slice(0, 3).map((l) => Buffer.from(/atob\("([^"]+)"\)/.exec(l)![1], 'base64')));
    expect(decoded.equals(bytes)).toBe(true);
    expect(sent[3]).toContain('E.CRC32');
  });

  it('--dry-run works without --port', () => {
    const r = run(['--dry-run', '--bundle', good]);
    expect(r.status).toBe(0);
    expect(r.out).toContain("-p '<PORT>'");
  });

  it('refuses without --port (exit 2), listing the serial ports', () => {
    const r = run(['--bundle', good]);
    expect(r.status).toBe(2);
    expect(r.err).toContain('--port is required');
    expect(r.err).toContain('serial ports here:');
    expect(r.err).toContain('semper doctor');
  });

  it('refuses a missing bundle (exit 2) and names npm run build', () => {
    const r = run(['--port', 'tcp://127.0.0.1:9', '--bundle', join(dir, 'none.js')]);
    expect(r.status).toBe(2);
    expect(r.err).toContain('none.js does not exist: run npm run build');
    expect(calls()).toEqual([]);
  });

  it('refuses a bundle that fails the Espruino bundle check (exit 2), also in a dry run', () => {
    for (const argv of [['--port', 'tcp://127.0.0.1:9'], ['--dry-run']]) {
      const r = run([...argv, '--bundle', bad]);
      expect(r.status).toBe(2);
      expect(r.err).toContain('fails the Espruino bundle check, refusing to flash it');
      expect(r.err).toContain('destructuring');
    }
    expect(calls()).toEqual([]);
  });

  it('refuses a port that does not exist (exit 1), listing the ports', () => {
    const r = run(['--port', join(dir, 'ttyACM42'), '--bundle', good]);
    expect(r.status).toBe(1);
    expect(r.err).toContain('ttyACM42 does not exist');
    expect(r.err).toContain('serial ports here:');
    expect(calls()).toEqual([]);
  });

  it('flashes: probe, write + CRC check, start — with the espruino CLI', () => {
    const r = run(['--port', 'tcp://127.0.0.1:9', '--bundle', good]);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toContain('PICO_R1_3, Espruino 2v29, 200000 bytes of flash free');
    expect(r.out).toContain(`stored ${pretokenise(readFileSync(good, 'latin1')).length} bytes, CRC32`);
    expect(r.out).toContain(': matches');
    expect(r.out).toContain('done: the firmware runs from flash');
    const c = calls();
    expect(c.map((x) => x.argv.slice(0, 3))).toEqual([
      ['-p', 'tcp://127.0.0.1:9', '--no-ble'],
      ['-p', 'tcp://127.0.0.1:9', '--no-ble'],
      ['-p', 'tcp://127.0.0.1:9', '--no-ble'],
    ]);
    expect(c[1].argv).toContain('.bootcde:bootcde.js');
    expect(c[1].cwd).not.toBe(dir);
    expect(c[2].argv.slice(-2)).toEqual(['-e', 'setTimeout(load,1000)']);
  });

  it('a bundle carrying resource files: .bootcde is the rest of it, each resource a Storage file of its own, every CRC checked', () => {
    const r = run(['--port', 'tcp://127.0.0.1:9', '--bundle', split, '--no-start']);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    const boot = Buffer.from(pretokenise('(function(){print(1);})();\n'), 'latin1');
    expect(r.out).toContain(`Storage file  .bootcde  ${boot.length} bytes`);
    // 8 bytes: \x00 \xfe \x82 " and a backslash followed by x41 (not the escape \x41)
    expect(r.out).toContain(`Storage file  semper.font.abc123  8 bytes  CRC32 0x${zlibCrc32(Buffer.from(RESOURCES['semper.font.abc123'], 'latin1')).toString(16).padStart(8, '0')}`);
    expect(r.out).toContain('Storage file  semper.lang.en.abc123  11 bytes');
    expect(r.out).toContain('2 resource files stored: every CRC32 matches');
    const w = calls()[1];
    const storage = w.argv.filter((_x, i) => w.argv[i - 1] === '--storage');
    expect(storage).toEqual(['.bootcde:bootcde.js', 'semper.font.abc123:semper.font.abc123', 'semper.lang.en.abc123:semper.lang.en.abc123']);
    // the files the CLI was given are the exact bytes (removed after the run)
    expect(w.cwd).not.toBe(dir);
    expect(existsSync(w.cwd)).toBe(false);
    // a resource that arrives damaged stops the flash before the firmware is started
    rmSync(log, { force: true });
    const damaged = run(['--port', 'tcp://127.0.0.1:9', '--bundle', split], { FAKE_MODE: 'badfile' });
    expect(damaged.status).toBe(1);
    expect(damaged.err).toContain('verification FAILED for semper.lang.en.abc123');
    expect(calls()).toHaveLength(2);
  });

  it('the dry run lists every Storage file and the size in all', () => {
    const r = run(['--dry-run', '--bundle', split]);
    expect(r.status).toBe(0);
    expect(r.out).toContain('in all        ');
    expect(r.out).toContain('write .bootcde and 2 resource files');
    expect(r.out).toMatch(/expects SIZE=\d+ CRC=\d+, file 1 SIZE=8 CRC=\d+, file 2 SIZE=11 CRC=\d+/);
    expect(calls()).toEqual([]);
  });

  it('--no-start verifies but does not start the firmware', () => {
    const r = run(['--port', 'tcp://127.0.0.1:9', '--bundle', good, '--no-start']);
    expect(r.status).toBe(0);
    expect(calls()).toHaveLength(2);
  });

  it('explains the console lock when the board does not answer (exit 1)', () => {
    const r = run(['--port', 'tcp://127.0.0.1:9', '--bundle', good], { FAKE_MODE: 'locked' });
    expect(r.status).toBe(1);
    expect(r.err).toContain("no answer from Espruino's console");
    expect(r.err).toContain('press BTN1 straight away');
    expect(calls()).toHaveLength(1); // nothing written
  });

  it('stops on a CRC mismatch without starting the firmware (exit 1)', () => {
    const r = run(['--port', 'tcp://127.0.0.1:9', '--bundle', good], { FAKE_MODE: 'badcrc' });
    expect(r.status).toBe(1);
    expect(r.err).toContain('verification FAILED');
    expect(r.err).toContain('NOT started');
    expect(calls()).toHaveLength(2);
  });

  it('refuses another board and a full flash before writing (exit 1)', () => {
    const other = run(['--port', 'tcp://127.0.0.1:9', '--bundle', good], { FAKE_MODE: 'otherboard' });
    expect(other.status).toBe(1);
    expect(other.err).toContain('is PIXLJS, the firmware is built for PICO_R1_3');
    const full = run(['--port', 'tcp://127.0.0.1:9', '--bundle', good], { FAKE_MODE: 'full' });
    expect(full.status).toBe(1);
    expect(full.err).toContain(`not enough flash: ${pretokenise(readFileSync(good, 'latin1')).length} bytes needed, 100 available`);
    expect(calls()).toHaveLength(2); // one probe each
  });

  it('says so when the espruino CLI cannot be run (exit 3)', () => {
    const r = run(['--port', 'tcp://127.0.0.1:9', '--bundle', good], { ESPRUINO_CLI: join(dir, 'no-such-espruino') });
    expect(r.status).toBe(3);
    expect(r.err).toContain('cannot run');
    expect(r.err).toContain('ESPRUINO_CLI');
  });
});
