// The device's screens as PNGs under docs/screens/, made from the real firmware in the
// emulator and kept current: a screen that changes fails this test until the picture is
// refreshed with UPDATE_SCREENSHOTS=1 (and looked at) — the docs never show a stale device.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeCanonical, HostCbor } from '../../shared/src/cbor';
import { MsgType } from '../../protocol/src/messages';
import { closeAll, DeviceRig, deviceRig } from '../helpers/device-rig';

jest.setTimeout(60000);
afterEach(closeAll);

const DIR = join(__dirname, '..', '..', 'docs', 'screens');
const update = process.env.UPDATE_SCREENSHOTS === '1';
const shots: string[] = [];

function shot(rig: DeviceRig, name: string): void {
  const png = rig.device.screenshotPng(3);
  const file = join(DIR, `${name}.png`);
  shots.push(name);
  if (update || !existsSync(file)) {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(file, png);
    return;
  }
  expect([name, Buffer.compare(readFileSync(file), png) === 0]).toEqual([name, true]);
}

const payment = encodeCanonical(
  new Map<number, HostCbor>([
    [1, 1],
    [2, 'Order 4711'],
    [3, [1250, 'EUR']],
    [4, 'CD-ROM Versand GmbH'],
    [6, 'INV-4711'],
    [9, 1767225600],
  ]),
);

test('idle, statement, PIN, result, menu and help — in English and German', async () => {
  const rig = await deviceRig();
  shot(rig, 'idle');
  await rig.press('OK');
  await rig.waitFor(/50\.00 EUR/);
  shot(rig, 'idle-balance');
  const p = rig.host.request(MsgType.PURSE_DEBIT, { statement: payment });
  await rig.waitFor(/PAYMENT/);
  shot(rig, 'statement');
  await rig.scrollTo(/-- end --/);
  shot(rig, 'statement-end');
  await rig.press('MENU');
  await rig.waitFor(/Read everything/);
  shot(rig, 'help-review');
  await rig.press('OK');
  await rig.press('OK');
  await rig.waitFor(/Enter your PIN/);
  await rig.type('12');
  shot(rig, 'pin');
  await rig.type('34');
  await rig.press('OK');
  await p;
  await rig.waitFor(/Done/);
  shot(rig, 'done');
  await rig.press('OK');
  await rig.press('MENU');
  await rig.waitFor(/1 Balance/);
  shot(rig, 'menu');
  await rig.press('5');
  await rig.press('2');
  await rig.waitFor(/OK:Saldo/);
  const q = rig.host.request(MsgType.CONFIRM, { statement: payment });
  await rig.waitFor(/ZAHLUNG/);
  shot(rig, 'statement-de');
  await rig.press('CANCEL');
  await q.catch(() => undefined);
  await rig.waitFor(/Abgelehnt/);
  shot(rig, 'refused-de');
  expect(shots).toHaveLength(10);
});

test('registration: the new key is said before the statement', async () => {
  const rig = await deviceRig();
  const registration = encodeCanonical(new Map<number, HostCbor>([[1, 2], [2, 'Registration'], [7, 'Register this card with the code 1234-ABCD-5678-EF90']]));
  const p = rig.host.request(MsgType.SIGN, { statement: registration, newKey: true });
  await rig.waitFor(/NEW KEY/);
  shot(rig, 'register-newkey');
  await rig.press('CANCEL');
  await p.catch(() => undefined);
  expect(shots).toContain('register-newkey');
});
