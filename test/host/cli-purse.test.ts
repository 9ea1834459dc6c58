// `semper purse load` as a user runs it: the real firmware in the emulator over TCP with a
// card the rig's issuer personalised, a bank over HTTP, the buyer account's key in a key
// store — and the user at the device's keypad pressing OK (or CANCEL, then loading again
// with the instruction the command printed).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatedCard } from '../../board/card/card';
import { personalise } from '../../board/card/personalise';
import { EmulatedDevice } from '../../board/emulator/device';
import { EmulatorServer } from '../../board/emulator/serve';
import { issueCertificate } from '../../shared/src/certificate';
import { HELP, parseAmount, run } from '../../host/src/cli/purse';
import { HELP as SEMPER_HELP } from '../../host/src/cli/semper';
import { KeyStore } from '../../host/src/services/keystore';
import { ca, issuer, ISSUER_NAME, key, NOW_S, RunningBank, startBank } from './bank/rig';
import { newDevice } from './emulator-rig';

jest.setTimeout(60000);
const PASS = 'purse test passphrase';
const erika = key('cli purse erika');
let home = '';
let server: EmulatorServer | null = null;
let device: EmulatedDevice;
let bank: RunningBank;
let spec = '';
let cardId = '';
const oldHome = process.env.SEMPER_HOME;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'semper-cli-purse-'));
  process.env.SEMPER_HOME = home;
  const ks = await KeyStore.create(join(home, 'keys.semper'), PASS);
  // KeyStore has no buyer role yet; the account key is kept under the merchant role
  await ks.import('erika', 'merchant', erika.privateKey);
  ks.close();
  bank = await startBank(join(home, 'bank.db'));
  await bank.client.openAccount({ id: 'erika', kind: 'buyer', name: 'Erika', currency: 'EUR', publicKey: erika.publicKey });
  await bank.client.fund('erika', 100_00);
  const persona = personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 5_00, ca, issuer, issuerName: ISSUER_NAME });
  cardId = Buffer.from(persona.cardId).toString('hex');
  const cert = issueCertificate({ name: 'Erika Mustermann', publicKey: persona.publicKey, role: 'buyer-card', subjectId: persona.cardId, issuerId: Uint8Array.of(0xca, 1), notBefore: 0, notAfter: 4102444800, serial: 4242 }, ca.privateKey);
  await bank.client.registerCard('erika', cert);
  device = newDevice();
  device.insertCard(new EmulatedCard(persona.nv));
  server = new EmulatorServer(device, { tcpPort: 0 });
  await server.start();
  device.powerOn();
  spec = `tcp://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.stop();
  await bank.stop();
  rmSync(home, { recursive: true, force: true });
  process.env.SEMPER_HOME = oldHome;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function press(k: string): Promise<void> {
  device.keypad.press(k);
  await sleep(30);
  device.keypad.release(k);
  await sleep(30);
}

/** The user: waits for the load on the screen, reads it to the end, presses `answer`. */
async function user(answer: 'OK' | 'CANCEL'): Promise<string> {
  for (let i = 0; i < 400 && !/LOAD PURSE/.test(device.screenText()); i++) await sleep(25);
  const seen = [device.screenText()];
  for (let i = 0; i < 20 && !/-- end --/.test(device.screenText()); i++) {
    await press('DOWN');
    seen.push(device.screenText());
  }
  await press(answer);
  return seen.join('\n');
}

async function semper(argv: string[], answer?: 'OK' | 'CANCEL'): Promise<{ code: number; out: string; err: string; seen: string }> {
  await sleep(150); // the emulator serves one host at a time: let it see the last one go
  let out = '';
  let err = '';
  const env = { ...process.env, SEMPER_KEYSTORE_PASSPHRASE: PASS, SEMPER_HOME: home };
  const [code, seen] = await Promise.all([run(argv, { out: (s) => (out += s), err: (s) => (err += s), env, now: () => NOW_S }), answer ? user(answer) : Promise.resolve('')]);
  return { code, out, err, seen };
}

test('load 20.00 EUR: the bank debits the account, the device shows the load, OK, the card holds 25.00', async () => {
  const r = await semper(['load', '--amount', '20.00', '--account', 'erika', '--key', 'erika', '--bank', bank.url, '--device', spec], 'OK');
  expect([r.code, r.err]).toEqual([0, '']);
  expect(r.out).toContain(`asking ${bank.url} to load 20.00 EUR from account erika onto card ${cardId}\n`);
  expect(r.out).toContain('the bank debited erika (balance now 80.00 EUR); load counter 1\n');
  expect(r.out).toMatch(/loaded: purse balance 25\.00 EUR\n$/);
  // progress on the long step: the device's steps as it reports them, and the wait for the user
  expect(r.out).toMatch(/sending the load instruction to the device\ndevice: step 1 of 2: \S.*\ncheck the amount on the device and press OK there\n(.|\n)*device: step 2 of 2: \S.*\nloaded/);
  expect(r.seen).toMatch(/20[.,]00/);
  expect((await bank.client.account('erika')).balance).toBe(80_00);
});

test('the user cancels on the device: the instruction is printed, and sent again it loads (no second debit)', async () => {
  const r = await semper(['load', '--amount', '1.50', '--account', 'erika', '--key', 'erika', '--bank', bank.url, '--card', cardId, '--device', spec], 'CANCEL');
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/the device did not load: USER_REFUSED/);
  const again = /--instruction ([A-Za-z0-9_-]+)/.exec(r.err)![1];
  expect((await bank.client.account('erika')).balance).toBe(78_50);
  const r2 = await semper(['load', '--instruction', again, '--device', spec], 'OK');
  expect([r2.code, r2.out]).toEqual([0, expect.stringMatching(/loaded: purse balance 26\.50 EUR\n$/)]);
  // the same instruction a third time: the card refuses it as replayed, and nothing is kept to retry
  const r3 = await semper(['load', '--instruction', again, '--device', spec], 'OK');
  expect(r3.code).toBe(1);
  expect(r3.err).toMatch(/REPLAYED/);
  expect(r3.err).not.toMatch(/to try again/);
  expect((await bank.client.account('erika')).balance).toBe(78_50);
});

test('refusals before anything moves: bad options, a wrong key, an unknown bank, help', async () => {
  expect((await semper(['load', '--amount', '1.234', '--account', 'erika', '--key', 'erika'])).code).toBe(2);
  expect((await semper(['load', '--amount', '0', '--account', 'erika', '--key', 'erika'])).code).toBe(2);
  expect((await semper(['unload'])).code).toBe(2);
  expect((await semper(['load', '--amount', '1', '--account', 'erika', '--key', 'nobody', '--bank', bank.url])).code).toBe(3);
  const wrongAccount = await semper(['load', '--amount', '1', '--account', 'max', '--key', 'erika', '--bank', bank.url, '--card', cardId]);
  expect([wrongAccount.code, wrongAccount.err]).toEqual([1, expect.stringMatching(/the bank refused: NOT_FOUND/)]);
  expect((await semper(['load', '--amount', '1', '--account', 'erika', '--key', 'erika', '--bank', 'http://127.0.0.1:1'])).code).toBe(3);
  const help = await semper(['--help']);
  expect([help.code, help.out]).toEqual([0, `${HELP}\n`]);
  expect(SEMPER_HELP).toMatch(/purse +the purse on the card/);
  expect((await bank.client.account('erika')).balance).toBe(78_50);
  expect([parseAmount('20.00', 'EUR'), parseAmount('5', 'EUR'), parseAmount('0.5', 'EUR'), parseAmount('700', 'JPY'), parseAmount('1.5', 'JPY'), parseAmount('-1', 'EUR')]).toEqual([2000, 500, 50, 700, undefined, undefined]);
});
