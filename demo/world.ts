// The whole SEMPER world of the shop demo, wired from the real parts, each on 127.0.0.1:
//
//   CA (HTTP)          certifies merchant, third party, the buyer's card (and is the root on the
//                      card); its root, revocation list, directory and card registration on-line
//   bank (HTTP)        merchant account; card issuer for purse loads; honours TTP refunds
//   third party (HTTP) resolves and aborts fair exchanges that go wrong
//   seller's agent     signed offers under evaluator-certified workflows, the exchange server,
//                      deposits at the bank before it gives anything, receipts
//   demo shop (web)    13,000-article catalogue, cart, checkout → the seller's offer → pay box
//   buyer's agent      the local API the shop's page pays through, the buyer's archive
//   emulated device    the real firmware bundle in the board emulator, with its web page
//
// startDemoWorld() is `npm start`'s (demo/shop-demo.ts), the end-to-end browser test's and
// bench:e2e's. Keys are made fresh for every world: this is a demonstration, not a deployment.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { startEmulator, RunningEmulator } from '../board/emulator/run';
import { EmulatedCard } from '../board/card/card';
import { personalise } from '../board/card/personalise';
import { TrustStore } from '../shared/src/certificate';
import { AgentServer } from '../host/src/agent/server';
import { Bank } from '../host/src/bank/bank';
import { BankClient } from '../host/src/bank/client';
import { serveBank } from '../host/src/bank/http';
import { CertificationAuthority } from '../host/src/ca/authority';
import { serveCa } from '../host/src/ca/http';
import { trackDeviceStatus, version } from '../host/src/cli/agent';
import { commercePurchaseHandler } from '../host/src/commerce/agent-handler';
import { Buyer } from '../host/src/commerce/buyer';
import { Seller } from '../host/src/commerce/seller';
import { serveSeller } from '../host/src/commerce/seller-http';
import { shopCheckout } from '../host/src/commerce/shop-checkout';
import { certifyWorkflow, STANDARD_WORKFLOWS } from '../host/src/commerce/workflow';
import { DeviceClient, openDevice, OpenDevice } from '../host/src/device';
import { ExchangeManager, TtpPort } from '../host/src/exchange/manager';
import { AccountCardInstrument, DevicePurse, PaymentManager } from '../host/src/payment/manager';
import { Catalogue } from '../host/src/seller/catalogue';
import { openDemoCatalogue } from '../host/src/seller/demo-catalogue';
import { RunningShop, startShop } from '../host/src/seller/shop-server';
import { SqliteArchive } from '../host/src/services/archive';
import { Listening } from '../host/src/services/http-server';
import { httpThirdParty, serveThirdParty } from '../host/src/ttp/http';
import { standardModules } from '../host/src/ttp/modules';
import { ThirdParty } from '../host/src/ttp/third-party';

export const DEMO_MERCHANT = 'demo-shop.example';
export const DEMO_HOLDER = 'Erika Mustermann';
export const DEMO_PIN = '1234';
export const DEMO_PUK = '12345678';
/** The holder's account at the demo bank, its card registered for account-card/1 payments. */
export const DEMO_ACCOUNT = 'erika';
/** The buyer's agent pays from the purse up to this amount (minor units of EUR), from the account above it. */
export const DEMO_PURSE_LIMIT = 50_00;
/** What the demo bank pays into the holder's account at the start (minor units of EUR). */
const DEMO_ACCOUNT_FUNDS = 1000_00;

export interface DemoWorldOptions {
  /** Where the databases go (default: a new temporary folder, kept after the run for inspection). */
  dir?: string;
  /** Remove the temporary folder at stop() (tests; default false: its archives stay readable). */
  removeOnStop?: boolean;
  /** The ports a person opens (0: any free port). Defaults: shop 37140, agent 37139, device page 37138. */
  shopPort?: number;
  agentPort?: number;
  devicePort?: number;
  /** Pace the device's USB line to this many bit/s (0: unpaced, the default). */
  baud?: number;
  /** The purse's balance on the demo card, minor units of EUR (default 100.00 EUR). */
  balance?: number;
  /** Seconds the device waits for OK when a site asks to pair (default 120). */
  pairingTimeoutSeconds?: number;
  /** Progress lines while the world starts, and operator messages while it runs. */
  log?: (line: string) => void;
  /** The firmware bundle's text (default dist/device/firmware.js). */
  firmware?: string;
}

export interface DemoWorld {
  dir: string;
  urls: { shop: string; device: string; agent: string; bank: string; ca: string; ttp: string; seller: string; link: string };
  shop: RunningShop;
  agent: AgentServer;
  /** The buyer agent's client of the device (the purse's balance, as the device reports it). */
  device: DeviceClient;
  emulator: RunningEmulator;
  bank: Bank;
  bankClient: BankClient;
  seller: Seller;
  /** The seller agent's HTTP face (offers, the exchange): closing it is a merchant that vanishes. */
  sellerHttp: Listening & { offerUrl(offerId: string): string };
  /** The merchant's certificate and public key, and the trust store with the demo CA's root. */
  merchant: { certificate: Uint8Array; publicKey: Uint8Array };
  trust: TrustStore;
  catalogue: Catalogue;
  buyerArchive: SqliteArchive;
  sellerArchive: SqliteArchive;
  ttpArchive: SqliteArchive;
  /** The CA (registration codes for `semper cert register`) and the evaluator that certified the workflows. */
  ca: CertificationAuthority;
  evaluator: { name: string; publicKey: Uint8Array };
  /** The demo card's id (16 hex digits), as printed on a real card. */
  cardId: string;
  /** Third-party calls so far (an honest purchase makes none). */
  ttpCalls(): number;
  /** Stops the world's buyer agent and frees the device's link (for another agent, e.g. `semper agent start`). */
  releaseDevice(): Promise<void>;
  /** Stops every server and closes every database, in reverse order of starting. */
  stop(): Promise<void>;
}

const keyPair = (): { privateKey: Uint8Array; publicKey: Uint8Array } => {
  const privateKey = p256.utils.randomPrivateKey();
  return { privateKey, publicKey: p256.getPublicKey(privateKey, false) };
};

/** Brings the world up, one service after the other; on a failure what started is stopped again. */
export async function startDemoWorld(o: DemoWorldOptions = {}): Promise<DemoWorld> {
  const log = o.log ?? (() => {});
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'semper-demo-'));
  const stops: (() => Promise<void> | void)[] = [];
  if (o.removeOnStop && !o.dir) stops.push(() => rmSync(dir, { recursive: true, force: true }));
  const stopAll = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) {
      try {
        await s();
      } catch (e) {
        log(`while stopping: ${(e as Error).message}`);
      }
    }
  };
  const open = (file: string): SqliteArchive => {
    const a = SqliteArchive.open(join(dir, file));
    stops.push(() => a.close());
    return a;
  };
  try {
    const now = (): number => Math.floor(Date.now() / 1000);
    // ---- certification: one root for merchant, third party and card; the card carries its key
    const caKey = keyPair();
    const ca = new CertificationAuthority({ name: 'SEMPER Demo CA', privateKey: caKey.privateKey, id: Uint8Array.of(0xca, 0xde), archive: open('ca.db') });
    const trust = new TrustStore();
    trust.addRoot(await ca.root());
    const merchantKey = keyPair();
    const merchantCertificate = await ca.issue({ name: DEMO_MERCHANT, publicKey: merchantKey.publicKey, role: 'merchant', validDays: 365 });
    const ttpKey = keyPair();
    const ttpIdentity = { name: 'SEMPER Demo TTP', ...ttpKey };
    await ca.issue({ name: ttpIdentity.name, publicKey: ttpKey.publicKey, role: 'ttp', validDays: 365 });
    const evaluator = { name: 'SEMPER Evaluation Lab', ...keyPair() };
    const issuerKey = keyPair();
    const caHttp = await serveCa(ca);
    stops.push(() => caHttp.close());
    log(`certification authority: ${caHttp.url} (root, merchant and third-party certificates issued)`);

    // ---- bank
    const bank = Bank.open(join(dir, 'bank.db'), { issuerKey: issuerKey.privateKey, issuerName: 'SEMPER Demo Bank', trust, ttpKeys: [ttpKey.publicKey] });
    stops.push(() => bank.close());
    const adminToken = Buffer.from(p256.utils.randomPrivateKey()).toString('hex');
    const bankHttp = await serveBank(bank, { adminToken });
    stops.push(() => bankHttp.close());
    const bankClient = new BankClient(bankHttp.url, { adminToken });
    await bankClient.openAccount({ id: DEMO_MERCHANT, kind: 'merchant', name: 'SEMPER Demo Shop', currency: 'EUR' });
    log(`bank: ${bankHttp.url} (merchant account ${DEMO_MERCHANT})`);

    // ---- third party: it checks card-signed account orders with the bank (is the card the account's?)
    const modules = standardModules({ trust });
    const ttpArchive = open('ttp.db');
    const ttp = new ThirdParty({ identity: ttpIdentity, archive: ttpArchive, modules: standardModules({ trust, bank: bankClient }) });
    const ttpHttp: Listening = await serveThirdParty(ttp);
    stops.push(() => ttpHttp.close());
    // both agents reach it over HTTP; the calls are counted (an honest purchase makes none)
    let ttpCalls = 0;
    const ttpHttpPort = httpThirdParty(ttpHttp.url);
    const ttpPort: TtpPort = {
      request: (signed, signal) => {
        ttpCalls++;
        return ttpHttpPort.request(signed, signal);
      },
    };
    log(`third party: ${ttpHttp.url}`);

    // ---- the seller: catalogue, offers, exchange server, shop
    const catalogue = openDemoCatalogue(join(dir, 'catalogue.db'));
    stops.push(() => catalogue.close());
    const sellerArchive = open('seller.db');
    const seller = new Seller({
      identity: { name: DEMO_MERCHANT, ...merchantKey, certificate: merchantCertificate },
      archive: sellerArchive,
      modules,
      ttp: { party: ttp.party, port: ttpPort },
      payments: new PaymentManager([new DevicePurse({ trust, now }), new AccountCardInstrument({ trust, now })]),
      bank: bankClient,
      workflows: new Map(STANDARD_WORKFLOWS.map((w) => [w.name, certifyWorkflow(w, evaluator, now())])),
      content: (sku) => {
        // shipped goods have no document: the seller ships them (a mixed order delivers the rest at once)
        const article = catalogue.get(sku);
        if (!article || article.kind === 'physical') return undefined;
        const c = catalogue.content(sku);
        return c.bytes ? { mediaType: c.mediaType, data: c.bytes } : undefined;
      },
    });
    const sellerHttp = await serveSeller(seller);
    stops.push(() => sellerHttp.close());
    const agentPort = o.agentPort ?? 37139;
    const { checkout, orderStatus } = shopCheckout({ seller, merchantKey: merchantKey.publicKey, offerUrl: (id) => sellerHttp.offerUrl(id), catalogue, shipAtOnce: true, log: (l) => log(`shop: ${l}`) });
    // the shop starts last: its pages need the agent's address, known once the agent listens
    // ---- the buyer's device: the real firmware in the emulator, a card from this CA
    const persona = personalise({ holder: DEMO_HOLDER, pin: DEMO_PIN, puk: DEMO_PUK, balance: o.balance ?? 100_00, currency: 'EUR', ca: { publicKey: caKey.publicKey }, issuer: { publicKey: issuerKey.publicKey }, issuerName: 'SEMPER Demo Bank' });
    const cardCertificate = await ca.issue({ name: DEMO_HOLDER, publicKey: persona.publicKey, role: 'buyer-card', subjectId: persona.cardId, validDays: 365 });
    // the holder's account, its card registered for card-signed account payments (account-card/1)
    // (a buyer account needs a key for software-signed orders and reads; the demo pays only card-signed, so it is thrown away)
    await bankClient.openAccount({ id: DEMO_ACCOUNT, kind: 'buyer', name: DEMO_HOLDER, currency: 'EUR', publicKey: keyPair().publicKey });
    await bankClient.fund(DEMO_ACCOUNT, DEMO_ACCOUNT_FUNDS);
    await bankClient.registerCard(DEMO_ACCOUNT, cardCertificate);
    log(`bank: account ${DEMO_ACCOUNT} of ${DEMO_HOLDER}, the demo card registered for account payments`);
    const card = new EmulatedCard(persona.nv);
    const emulator = await startEmulator({ firmware: o.firmware, tcpPort: 0, baud: o.baud ?? 0, webPort: o.devicePort ?? 37138, makeCard: () => card, cardInserted: true, log: (l) => log(`device: ${l}`) });
    stops.push(() => emulator.stop());
    log(`device: firmware running, card of ${DEMO_HOLDER} inserted (PIN ${DEMO_PIN}); its page ${emulator.web?.url}`);

    // ---- the buyer's agent
    const buyerArchive = open('buyer.db');
    let dev: OpenDevice | undefined;
    for (let attempt = 0; !dev; attempt++) {
      try {
        dev = await openDevice({ device: emulator.linkUrl as string, app: 'semper demo', lock: false });
      } catch (e) {
        if (attempt >= 4) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const device = dev;
    stops.push(() => device.close());
    const buyerKey = keyPair();
    const exchange = new ExchangeManager({ identity: { name: 'buyer', ...buyerKey }, archive: buyerArchive, modules, ttp: { party: ttp.party, port: ttpPort } });
    const buyer = new Buyer({
      exchange,
      archive: buyerArchive,
      trust,
      evaluators: [evaluator],
      device: { verifyOffer: (c, off) => device.client.verifyOffer(c, off), purseDebit: (s) => device.client.purseDebit(s), sign: (s) => device.client.sign(s) },
      cardCertificate,
      // the trials' wish: stored value for small purchases, the account for large ones
      payment: { prefer: ['device-purse/1', 'account-card/1'], purseMax: DEMO_PURSE_LIMIT, account: DEMO_ACCOUNT },
    });
    const agent = new AgentServer({
      archive: buyerArchive,
      device: device.client,
      deviceStatus: await trackDeviceStatus(device),
      port: agentPort,
      handler: commercePurchaseHandler(buyer, trust),
      trust, // the statement page checks merchants' certificates against the demo CA
      pairingTimeoutSeconds: o.pairingTimeoutSeconds ?? 120,
      version: version(),
      log: (l) => log(`agent: ${l}`),
    });
    await agent.start();
    stops.push(() => agent.stop());
    log(`buyer's agent: ${agent.url}`);

    const shop = await startShop({ port: o.shopPort ?? 37140, catalogue, checkout, orderStatus, agentUrl: agent.url, shopName: 'SEMPER Demo Shop', log: (l) => log(`shop: ${l}`) });
    stops.push(() => shop.close());
    log(`shop: ${shop.url}`);

    return {
      dir,
      urls: { shop: shop.url, device: emulator.web?.url ?? '', agent: agent.url, bank: bankHttp.url, ca: caHttp.url, ttp: ttpHttp.url, seller: sellerHttp.url, link: emulator.linkUrl as string },
      shop,
      agent,
      device: device.client,
      emulator,
      bank,
      bankClient,
      seller,
      sellerHttp,
      merchant: { certificate: merchantCertificate, publicKey: merchantKey.publicKey },
      trust,
      catalogue,
      buyerArchive,
      sellerArchive,
      ttpArchive,
      ca,
      cardId: Buffer.from(persona.cardId).toString('hex'),
      evaluator: { name: evaluator.name, publicKey: evaluator.publicKey },
      ttpCalls: () => ttpCalls,
      releaseDevice: async () => {
        await agent.stop();
        device.close();
        // the emulator takes one host at a time: the next may connect once it saw this one go
        for (const t0 = Date.now(); emulator.server.hostConnected && Date.now() - t0 < 5000; ) await new Promise((r) => setTimeout(r, 20));
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
