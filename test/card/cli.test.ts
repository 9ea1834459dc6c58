// npm run card: personalising a card file as the issuer would, and reading it back.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatedCard } from '../../board/card/card';

const CLI = join(__dirname, '..', '..', 'dist', 'board', 'card', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('new makes a card file the emulator loads; show prints identity and purse, never secrets', () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const out = join(mkdtempSync(join(tmpdir(), 'card-')), 'erika.json');
  const made = run('new', '--out', out, '--holder', 'Erika Mustermann', '--pin', '2468', '--puk', '13572468', '--balance', '5000', '--currency', 'EUR');
  expect(made.status).toBe(0);
  expect(made.stdout).toMatch(/for Erika Mustermann: 5000 minor units of EUR/);
  expect(made.stdout).toContain('TEST CA');
  const keys = JSON.parse(readFileSync(`${out}.test-keys.json`, 'utf8'));
  expect(keys.warning).toMatch(/TEST ONLY/);
  const shown = run('show', out);
  expect(shown.stdout).toContain('holder   Erika Mustermann');
  expect(shown.stdout).toContain('purse    5000 minor units of EUR');
  expect(shown.stdout).toContain('PIN tries left 3');
  expect(shown.stdout).not.toContain('2468');
  // the emulator can power it up and it answers with its ATR
  const card = EmulatedCard.fromFile(out);
  expect(card.reset()?.[0]).toBe(0x3b);
  // a second `new` does not overwrite by accident
  const again = run('new', '--out', out, '--holder', 'X', '--pin', '1234', '--puk', '12345678');
  expect(again.status).toBe(2);
  expect(again.stderr).toContain('exists: choose another --out or add --force');
});

test('bad input is refused with what to do', () => {
  expect(run('new', '--out', '/tmp/x.json', '--holder', 'A', '--pin', '12', '--puk', '12345678').stderr).toContain('--pin must be 4 to 8 digits');
  expect(run('show', '/nonexistent.json').stderr).toContain('does not exist (make one with: npm run card -- new');
  expect(run('frobnicate').status).toBe(2);
  expect(run('--help').stdout).toContain('usage:');
});
