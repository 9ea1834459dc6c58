// Registration with a service provider (workflow registration/1, the seed's third commerce
// sequence), with the real firmware: the provider offers a registration; the device shows it (as
// a DOCUMENT statement, the provider verified from its certificate); OK and PIN; the card signs
// it; in a fair exchange the provider gets the card-signed registration (checked against the CA
// that certified the card) and the holder gets the provider's signed customer credential. No
// money moves. Also: the holder refusing; a card from another CA; a registration under a
// payment workflow; a money offer passed off as a registration.

import { p256 } from '@noble/curves/p256';
import { issueCertificate, TrustStore } from '../../../shared/src/certificate';
import { DeviceClient } from '../../../host/src/device/client';
import { PaymentManager } from '../../../host/src/payment/manager';
import { SqliteArchive } from '../../../host/src/services/archive';
import { memoryChannel } from '../../../host/src/transfer/channel';
import { StatementItem } from '../../../host/src/transfer/items';
import { ExchangeManager } from '../../../host/src/exchange/manager';
import { CARD_STATEMENT_FORMAT, openCardStatement } from '../../../host/src/exchange/modules';
import { checkSignature, openSigned } from '../../../host/src/exchange/formats';
import { ThirdParty } from '../../../host/src/ttp/third-party';
import { standardModules } from '../../../host/src/ttp/modules';
import { Buyer } from '../../../host/src/commerce/buyer';
import { credentialText, Seller } from '../../../host/src/commerce/seller';
import { CommerceError, verifyOffer } from '../../../host/src/commerce/offer';
import { certifyWorkflow, readWorkflow, STANDARD_WORKFLOWS } from '../../../host/src/commerce/workflow';
import { ca, cardCertificateOf, issuer, key, trustStore } from '../bank/rig';
import { closeAll, DeviceRig, deviceRig } from '../../helpers/device-rig';

jest.setTimeout(90000);
const PROVIDER = 'library.example';
const providerKey = key('registration provider');
const providerCert = issueCertificate({ name: PROVIDER, publicKey: providerKey.publicKey, role: 'merchant', subjectId: Uint8Array.of(9, 9), issuerId: Uint8Array.of(0xca, 1), notBefore: 0, notAfter: 4102444800, serial: 779 }, ca.privateKey);
const evaluator = { name: 'SEMPER Evaluation Lab', ...key('registration evaluator') };
const now = (): number => Math.floor(Date.now() / 1000);
let rig: DeviceRig;

beforeAll(async () => {
  rig = await deviceRig({ ca, issuer, balance: 10_00 });
});
afterAll(() => closeAll());

function world(o: { sellerTrust?: TrustStore; cardCertificate?: Uint8Array } = {}) {
  const modules = standardModules({ trust: trustStore() });
  const ttpId = { name: 'SEMPER TTP', ...key('registration ttp') };
  const ttp = new ThirdParty({ identity: ttpId, archive: SqliteArchive.open(':memory:'), modules });
  const port = { calls: 0, request: async (b: Uint8Array) => (port.calls++, ttp.handle(b)) };
  const sellerArchive = SqliteArchive.open(':memory:');
  const seller = new Seller({
    identity: { name: PROVIDER, ...providerKey, certificate: providerCert },
    archive: sellerArchive,
    modules,
    ttp: { party: ttpId, port },
    payments: new PaymentManager([]),
    bank: { settle: async () => Promise.reject(new Error('no money in a registration')) } as never,
    workflows: new Map(STANDARD_WORKFLOWS.map((w) => [w.name, certifyWorkflow(w, evaluator, now())])),
    trust: o.sellerTrust ?? trustStore(),
  });
  const buyerKey = p256.utils.randomPrivateKey();
  const buyerArchive = SqliteArchive.open(':memory:');
  const exchange = new ExchangeManager({ identity: { name: 'erika', privateKey: buyerKey, publicKey: p256.getPublicKey(buyerKey, false) }, archive: buyerArchive, modules, ttp: { party: ttpId, port } });
  const client = new DeviceClient(rig.host);
  const buyer = new Buyer({
    exchange,
    archive: buyerArchive,
    trust: trustStore(),
    evaluators: [evaluator],
    device: { verifyOffer: (c, off) => client.verifyOffer(c, off), purseDebit: (s) => client.purseDebit(s), sign: (s) => client.sign(s) },
    cardCertificate: o.cardCertificate ?? cardCertificateOf(rig.persona, 'Erika Mustermann', 903),
  });
  return { seller, buyer, channel: memoryChannel(seller.handler), port, sellerArchive, buyerArchive };
}

/** The holder reads the registration to its end, OK, PIN, OK. */
async function holderSigns(): Promise<string> {
  await rig.waitFor(/Register with/, 20000);
  return (await rig.approve('1234')).join('\n');
}

const REGISTRATION = [{ sku: 'MEMBER-1', title: 'Reader card of the literature service', quantity: 1, unitPrice: 0 }];

test('the registration workflow is certified like the others and says what each side gives', () => {
  const w = STANDARD_WORKFLOWS.find((x) => x.name === 'registration/1');
  expect(w).toMatchObject({ buyerGives: 'registration', sellerGives: 'credential', fair: true });
  expect(readWorkflow(certifyWorkflow(w!, evaluator, 1))).toMatchObject({ buyerGives: 'registration', sellerGives: 'credential' });
  // a payment workflow's certified bytes carry no field 11: definitions certified before stay valid
  const mail = readWorkflow(certifyWorkflow(STANDARD_WORKFLOWS[0], evaluator, 1));
  expect(mail.buyerGives).toBeUndefined();
});

test('register: the device shows the verified provider, one OK and PIN, the card-signed registration against the signed credential; no money, no third party', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer(REGISTRATION, { workflow: 'registration/1', currency: 'EUR' });
  const purse0 = (await new DeviceClient(rig.host).purseBalance()).amount;
  const [p, screens] = await Promise.all([w.buyer.purchase(bundle, w.channel), holderSigns()]);
  expect(screens).toMatch(/Register with/);
  expect(screens).toContain(PROVIDER);
  expect(screens).toMatch(/verified/);
  expect(screens).toMatch(/Reader card/);
  expect(screens).toMatch(/literature/);
  expect(screens).not.toMatch(/Payee|Amount/i);
  if (p.outcome.outcome !== 'completed') throw new Error(JSON.stringify({ ...p.outcome, received: undefined }));
  expect(w.port.calls).toBe(0);
  // the holder's credential: signed by the provider, bound to the registration the device showed
  const credential = p.receipt as StatementItem;
  const { sign1, f } = openSigned(credential.document, 'semper-exchange-signature');
  checkSignature(sign1, providerKey.publicKey, 'credential');
  const offer = (await w.seller.sale(bundle.id))!;
  expect(f.text(4, 400)).toBe(credentialText(PROVIDER, verifyOffer(offer.offer, providerCert, trustStore(), now()).offer, 'Erika Mustermann', p.orderDigest));
  expect(f.text(4, 400)).toMatch(/^library\.example registered Erika Mustermann as customer [0-9A-F]{8} for Reader card of the literature service \(offer [0-9a-f]{32}\)$/);
  // the provider's evidence: the card's signature over exactly that registration
  const signed = await w.sellerArchive.list({ kind: 'signature' });
  expect(signed.map((r) => r.label)).toEqual(['registration of Erika Mustermann']);
  expect(Buffer.from(openCardStatement(signed[0].evidence as Uint8Array, rig.persona.publicKey).statement).equals(Buffer.from(p.order))).toBe(true);
  expect((await w.seller.sale(bundle.id))?.deal?.state).toBe('completed');
  expect((await w.buyerArchive.list({ deal: p.deal })).map((r) => r.kind)).toEqual(expect.arrayContaining(['offer', 'order', 'signature', 'receipt', 'deal']));
  expect((await new DeviceClient(rig.host).purseBalance()).amount).toBe(purse0);
});

test('the holder says no on the device: no signature, no credential, the provider has nothing', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer(REGISTRATION, { workflow: 'registration/1', currency: 'EUR' });
  const refuse = (async () => {
    await rig.waitFor(/Register with/, 20000);
    await rig.press('CANCEL');
  })();
  const [p] = await Promise.all([w.buyer.purchase(bundle, w.channel), refuse]);
  expect(p.userRefused).toBe(true);
  expect(p.receipt).toBeUndefined();
  expect(await w.sellerArchive.list({ kind: 'signature' })).toEqual([]);
  await rig.waitFor(/Refused/);
  await rig.press('OK');
  await rig.waitFor(/Erika Mustermann/);
});

test('a card the provider\u2019s CA did not certify is refused before any credential is given', async () => {
  const other = key('another CA');
  const foreignRoot = issueCertificate({ name: 'Other CA', publicKey: other.publicKey, role: 'ca', subjectId: Uint8Array.of(0xcb, 1), issuerId: Uint8Array.of(0xcb, 1), notBefore: 0, notAfter: 4102444800, serial: 1 }, other.privateKey);
  const sellerTrust = new TrustStore();
  sellerTrust.addRoot(foreignRoot);
  const w = world({ sellerTrust });
  const bundle = await w.seller.makeOffer(REGISTRATION, { workflow: 'registration/1', currency: 'EUR' });
  const [p] = await Promise.all([w.buyer.purchase(bundle, w.channel), holderSigns()]);
  expect(p.outcome.outcome).not.toBe('completed');
  expect(p.outcome.reason).toMatch(/not certified/);
  expect((p.receipt as StatementItem | undefined)?.format).not.toBe('semper-exchange-signature/1');
  expect(await w.sellerArchive.list({ kind: 'signature' })).toEqual([]);
  await rig.waitFor(/Done/);
  await rig.press('OK');
  await rig.waitFor(/Erika Mustermann/, 20000);
});

test('money offers are not registrations and registrations are not paid', async () => {
  const w = world();
  const paid = await w.seller.makeOffer([{ sku: 'MEMBER-2', title: 'Premium reader card', quantity: 1, unitPrice: 5_00 }], { workflow: 'registration/1', currency: 'EUR' });
  await expect(w.buyer.purchase(paid, w.channel)).rejects.toThrow(CommerceError);
  const free = await w.seller.makeOffer([{ sku: 'CD-0', title: 'Free sampler', quantity: 1, unitPrice: 0 }], { workflow: 'mail-order/1', currency: 'EUR' });
  await expect(w.buyer.purchase(free, w.channel)).rejects.toThrow(/asks for no money/);
  expect(CARD_STATEMENT_FORMAT).toBe('semper-card-statement/1');
});
