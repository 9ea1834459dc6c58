// `semper device info|balance|log` against the real firmware in the emulator over TCP, with
// a personalised card in the slot: what a user types to look at the device.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatedCard } from '../../board/card/card';
import { personalise } from '../../board/card/personalise';
import { EmulatorServer } from '../../board/emulator/serve';
import { run } from '../../host/src/cli/device';
import { newDevice } from './emulator-rig';

jest.setTimeout(30000);
let home = '';
let server: EmulatorServer | null = null;
const oldHome = process.env.SEMPER_HOME;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'semper-cli-device-'));
  process.env.SEMPER_HOME = home;
});
afterEach(async () => {
  await server?.stop();
  server = null;
  rmSync(home, { recursive: true, force: true });
  process.env.SEMPER_HOME = oldHome;
});

async function emulator(card: boolean): Promise<string> {
  const device = newDevice();
  if (card) device.insertCard(new EmulatedCard(personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 123456 }).nv));
  server = new EmulatorServer(device, { tcpPort: 0 });
  await server.start();
  device.powerOn();
  return `tcp://127.0.0.1:${server.port}`;
}

async function semper(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  // the emulator serves one host at a time, like a USB port: let it see the last one go
  await new Promise((r) => setTimeout(r, 150));
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

test('info, balance and log from the device', async () => {
  const spec = await emulator(true);
  const info = await semper('info', '--device', spec);
  expect(info.code).toBe(0);
  expect(info.out).toMatch(/^firmware \d+\.\d+\.\d+ on PICO_R1_3, protocol version 1/);
  expect(info.out).toMatch(/can do .*SIGN.*PURSE_DEBIT/);
  expect(info.out).toMatch(/card {5}inserted/);
  const balance = await semper('balance', '--device', spec);
  expect([balance.code, balance.out]).toEqual([0, 'balance 1234.56 EUR\n']);
  const json = await semper('balance', '--device', spec, '--json');
  expect(JSON.parse(json.out)).toEqual({ amount: 123456, currency: 'EUR' });
  const log = await semper('log', '--device', spec, '--max', '5');
  expect([log.code, log.out]).toEqual([0, 'no purse operations on this card yet\n']);
});

test('without a card the device says so; bad options and no device are told apart', async () => {
  const spec = await emulator(false);
  const balance = await semper('balance', '--device', spec);
  expect(balance.code).toBe(1);
  expect(balance.err).toMatch(/NO_CARD/);
  expect((await semper('log', '--max', '99', '--device', spec)).code).toBe(2);
  expect((await semper('frobnicate')).code).toBe(2);
  expect((await semper('--help')).out).toMatch(/^semper device/);
  const none = await semper('info', '--device', 'tcp://127.0.0.1:1');
  expect(none.code).toBe(3);
  expect(none.err).toMatch(/semper doctor/);
});
