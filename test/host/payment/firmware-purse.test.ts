// The payment manager with the device purse as it really runs: the firmware bundle in the
// emulator with a card issued by the bank's CA, the user confirming on the device's screen
// and keypad, the card-signed token negotiated, verified and deposited at the bank over HTTP
// — and a purse load the bank issues and the device shows before the card accepts it. The
// card-signed account payment (account-card/1): the statement the user reads on the device and
// the card signs is the order the bank debits the registered account on.

import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { signLoadRequest } from '../../../host/src/payment/formats';
import { AccountCardInstrument, AccountInstrument, DevicePurse, DeviceSignature, PaymentManager, PaymentRequest } from '../../../host/src/payment/manager';
import { MsgType } from '../../../protocol/src/messages';
import { BankClient } from '../../../host/src/bank/client';
import { ca, cardCertificateOf, issuer, key, RunningBank, startBank, tempDir, trustStore } from '../bank/rig';
import { closeAll, DeviceRig, deviceRig } from '../../helpers/device-rig';

jest.setTimeout(60000);
const SHOP = 'cd-rom.example';
let tmp: ReturnType<typeof tempDir>;
let bank: RunningBank;
let rig: DeviceRig;
let cardCertificate: Uint8Array;
const buyerKey = key('firmware purse buyer');

beforeAll(async () => {
  tmp = tempDir('firmware-purse-');
  bank = await startBank(join(tmp.dir, 'bank.db'), { now: () => Date.now() });
  await bank.client.openAccount({ id: SHOP, kind: 'merchant', name: 'CD-ROM Versand', currency: 'EUR' });
  await bank.client.openAccount({ id: 'erika', kind: 'buyer', name: 'Erika', currency: 'EUR', publicKey: buyerKey.publicKey });
  await bank.client.fund('erika', 100_00);
  rig = await deviceRig({ ca, issuer, balance: 20_00 });
  cardCertificate = cardCertificateOf(rig.persona, 'Erika Mustermann', 900);

});
afterAll(async () => {
  closeAll();
  await bank.stop();
  tmp.cleanup();
});

/** The user at the device: reads the statement to its end, OK, PIN, OK. */
async function userConfirms(pin = '1234'): Promise<void> {
  const load = /LOAD PURSE/.test(await rig.waitFor(/PAYMENT|LOAD PURSE/));
  await rig.scrollTo(/-- end --/);
  await rig.press('OK');
  if (load) return; // value only flows in: no PIN
  await rig.waitFor(/Enter your PIN/);
  await rig.type(pin);
  await rig.press('OK');
}

test('debit on the device through the payment manager, deposited at the bank', async () => {
  // the statement the device will show and hash: its digest is the order digest the payee expects
  const statement = encodeCanonical(new Map<number, HostCbor>([[1, 1], [2, 'Order 7: 1 CD-ROM'], [3, [12_50, 'EUR']], [4, SHOP]]));
  const req: PaymentRequest = { payee: SHOP, amount: 12_50, currency: 'EUR', txDigest: sha256(statement), time: 0 };
  const payer = new PaymentManager([
    new DevicePurse({
      cardCertificate,
      debit: async () => {
        const p = rig.host.request(MsgType.PURSE_DEBIT, { statement });
        await userConfirms();
        return ((await p) as { token: Uint8Array }).token;
      },
    }),
  ]);
  const payee = new PaymentManager([new DevicePurse({ trust: trustStore(), now: () => Math.floor(Date.now() / 1000) })]);
  const item = await payer.pay(payee.offerFor(req.amount), req);
  expect(item.instrument).toBe('device-purse/1');
  expect(payee.verify(item, req)).toMatchObject({ amount: 12_50, payee: SHOP });
  const before = (await bank.client.account(SHOP)).balance;
  await payee.settle(item, new BankClient(bank.url), 'deposit-1');
  expect((await bank.client.account(SHOP)).balance).toBe(before + 12_50);
  // the same token again: the bank refuses it (double spending by card id + counter)
  await expect(payee.settle(item, new BankClient(bank.url), 'deposit-2')).rejects.toThrow();
  await expect(rig.host.request(MsgType.PURSE_BALANCE, {})).resolves.toEqual({ balance: { amount: 7_50, currency: 'EUR' } });
});

test('load: the bank issues an instruction from the buyer account, the device shows it, the card takes it', async () => {
  const request = signLoadRequest({ account: 'erika', cardId: rig.persona.cardId, amount: 30_00, currency: 'EUR', time: Math.floor(Date.now() / 1000) }, buyerKey.privateKey);
  const { instruction } = await bank.client.load({ requestId: 'load-1', request });
  const p = rig.host.request(MsgType.PURSE_LOAD, { instruction });
  await userConfirms();
  const res = (await p) as { balance: { amount: number } };
  expect(res.balance.amount).toBeGreaterThanOrEqual(30_00);
  expect((await bank.client.account('erika')).balance).toBe(70_00);
  const log = (await rig.host.request(MsgType.READ_LOG, {})) as { entries: { kind: number; amount: number }[] };
  expect(log.entries[0]).toMatchObject({ kind: 2, amount: 30_00 });
});

/** The device's SIGN with the user at the keypad: what the account-card instrument calls. */
function deviceSign(seen: string[]): (statement: Uint8Array) => Promise<DeviceSignature> {
  return async (statement) => {
    const p = rig.host.request(MsgType.SIGN, { statement });
    await rig.waitFor(/PAYMENT/);
    // read every page, as the user does, to the end
    seen.push(...(await rig.approve('1234')));
    const r = (await p) as { protected: Uint8Array; signature: Uint8Array; kid: Uint8Array };
    return { ...r, statement };
  };
}

test('account-card/1: the card signs the account order on the device; the bank debits the account the card is registered for', async () => {
  await bank.client.registerCard('erika', cardCertificate);
  const statement = encodeCanonical(new Map<number, HostCbor>([[1, 1], [2, 'Order 8: 2 CD-ROMs'], [3, [45_00, 'EUR']], [4, SHOP]]));
  const req: PaymentRequest = { payee: SHOP, amount: 45_00, currency: 'EUR', txDigest: sha256(statement), time: 0 };
  const seen: string[] = [];
  const payer = new PaymentManager([new AccountCardInstrument({ account: 'erika', sign: deviceSign(seen), cardCertificate, title: () => 'Order 8: 2 CD-ROMs' })]);
  const payee = new PaymentManager([new AccountInstrument({}), new AccountCardInstrument({ trust: trustStore(), now: () => Math.floor(Date.now() / 1000) })]);
  const item = await payer.pay(payee.offerFor(req.amount), req);
  expect(item.instrument).toBe('account-card/1');
  // what the user read before the card signed: payee, amount, the paying account
  expect(seen.join('\n')).toMatch(/45[.,]00/);
  expect(seen.join('\n')).toMatch(/erika/);
  const v = payee.verify(item, req);
  expect(v).toMatchObject({ payer: 'erika', payee: SHOP, amount: 45_00 });
  const before = (await bank.client.account('erika')).balance;
  const client = new BankClient(bank.url, { adminToken: 'x' });
  const s = await payee.settle(item, client, 'card-order-1');
  expect(s.amount).toBe(45_00);
  expect((await bank.client.account('erika')).balance).toBe(before - 45_00);
  // settled once: the same signed order again is refused
  await expect(payee.settle(item, client, 'card-order-2')).rejects.toMatchObject({ code: 'NOT_SETTLED', detail: 'DUPLICATE_ORDER' });
  // the bank-signed status tells anyone who paid whom
  const { status } = await bank.client.paymentStatus({ orderId: v.orderId! });
  expect(status).toMatchObject({ settled: true, payer: 'erika', payee: SHOP, amount: 45_00, refunded: 0 });
});

test('account-card/1: an order naming an account the card is not registered for is refused by the bank', async () => {
  await bank.client.openAccount({ id: 'max', kind: 'buyer', name: 'Max', currency: 'EUR', publicKey: key('max').publicKey });
  await bank.client.fund('max', 50_00);
  const req: PaymentRequest = { payee: SHOP, amount: 1_00, currency: 'EUR', txDigest: new Uint8Array(32).fill(3), time: 0 };
  const thief = new AccountCardInstrument({ account: 'max', sign: deviceSign([]), cardCertificate });
  const item = await thief.pay(req);
  const payee = new AccountCardInstrument({ trust: trustStore() });
  expect(payee.verify(item, req).payer).toBe('max'); // the payee cannot know; the bank does
  await expect(payee.settle(item, new BankClient(bank.url), 'card-order-max')).rejects.toMatchObject({ code: 'NOT_SETTLED', detail: 'BAD_SIGNATURE' });
  expect((await bank.client.account('max')).balance).toBe(50_00);
});
