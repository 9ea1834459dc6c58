// npm run bench:exchange — the exchange layer against the cost of its own cryptography,
// measured in the same run: honest payment-for-receipt exchanges per second between two
// agents in this process (memory channel, no device UI), and the third party's resolves per
// second. The reference is what the same number of P-256 signatures and verifications cost
// alone (counted during a run, timed separately), so the ratio is the protocol's own
// overhead: encoding, checks, archive writes. Figures, not pass/fail.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { SqliteArchive } from '../host/src/services/archive';
import { AccountInstrument, PaymentManager } from '../host/src/payment/manager';
import { Channel, memoryChannel } from '../host/src/transfer/channel';
import { ExchangeManager, Offering } from '../host/src/exchange/manager';
import { ExchangeModules, InformationExchangeModule, makeSignature, paymentDescription, PaymentExchangeModule, signatureDescription, SignatureExchangeModule } from '../host/src/exchange/modules';
import { openMessage } from '../host/src/exchange/formats';
import { ThirdParty } from '../host/src/ttp/third-party';
import { countCurveOperations } from './reference';

function row(name: string, value: string, goal: string): void {
  console.log(`  ${name.padEnd(58)} ${value.padStart(18)}${goal ? `   goal ${goal}` : ''}`);
}

function keyed(name: string) {
  const privateKey = p256.utils.randomPrivateKey();
  return { name, privateKey, publicKey: p256.getPublicKey(privateKey, false) };
}

// counts of the curve operations an exchange does
const { counts, sign: origSign, verify: origVerify } = countCurveOperations();

async function main(): Promise<void> {
  console.log('SEMPER exchange layer: honest exchanges and third-party resolves\n');
  const buyer = keyed('buyer');
  const merchant = keyed('merchant');
  const ttpId = keyed('ttp');
  const payers = new Map([['acct-buyer', buyer.publicKey]]);
  const payments = new PaymentManager([new AccountInstrument({ payerKey: (a) => payers.get(a) })]);
  const modules = ExchangeModules.withPackages([new PaymentExchangeModule({ verify: (i, e) => payments.verify(i, e) }), new SignatureExchangeModule(), new InformationExchangeModule()]);
  const dir = mkdtempSync(join(tmpdir(), 'semper-bench-exchange-'));
  try {
    for (const durable of [true, false]) {
      const archive = (n: string) => SqliteArchive.open(durable ? join(dir, `${n}.db`) : ':memory:');
      const ttpArchive = archive('ttp');
      const ttp = new ThirdParty({ identity: ttpId, archive: ttpArchive, modules });
      let down = false;
      const port = { request: (b: Uint8Array) => (down ? Promise.reject(new Error('down')) : ttp.handle(b)) };
      const receipt: Offering = { description: signatureDescription(merchant), make: async (ctx) => makeSignature(ctx.agreementHash, 'paid, thank you', merchant.privateKey) };
      const server = new ExchangeManager({ identity: merchant, archive: archive('merchant'), modules, ttp: { party: ttpId, port }, respond: () => receipt });
      const client = new ExchangeManager({ identity: buyer, archive: archive('buyer'), modules, ttp: { party: ttpId, port } });
      const inst = new AccountInstrument({ account: 'acct-buyer', privateKey: buyer.privateKey, publicKey: buyer.publicKey });
      const pay: Offering = { description: paymentDescription(1250, 'EUR', 'acct-merchant'), make: (ctx) => inst.pay({ payee: 'acct-merchant', amount: 1250, currency: 'EUR', txDigest: ctx.agreementHash, time: Math.floor(ctx.now / 1000) }) };
      const channel: Channel = memoryChannel(server.handler);
      const once = () => client.exchange(channel, { peer: merchant, give: pay, want: receipt.description, fair: true });
      await once(); // warm up
      counts.sign = counts.verify = 0;
      let n = 0;
      let t0 = performance.now();
      while (performance.now() - t0 < 3000) {
        const out = await once();
        if (out.outcome !== 'completed') throw new Error(`bench exchange ended ${out.outcome}`);
        n++;
      }
      const perExchange = (performance.now() - t0) / n;
      const signs = counts.sign / n;
      const verifies = counts.verify / n;
      // the same curve operations alone
      const key = p256.utils.randomPrivateKey();
      const pub = p256.getPublicKey(key, false);
      const digest = sha256(new Uint8Array([1]));
      const sig = origSign(digest, key) as { toCompactRawBytes(): Uint8Array };
      const raw = sig.toCompactRawBytes();
      let k = 0;
      t0 = performance.now();
      for (; performance.now() - t0 < 1000; k++) origSign(digest, key);
      const tSign = (performance.now() - t0) / k;
      k = 0;
      t0 = performance.now();
      for (; performance.now() - t0 < 1000; k++) origVerify(raw, digest, pub, { lowS: false, format: 'compact' });
      const tVerify = (performance.now() - t0) / k;
      const crypto = signs * tSign + verifies * tVerify;
      const label = durable ? 'archives on disk (WAL, synchronous=FULL)' : 'archives in memory (protocol alone)';
      console.log(`${label}:`);
      row('honest payment-for-receipt exchanges per second', (1000 / perExchange).toFixed(1), 'the overhead below ≤ 50 %');
      row(`  P-256 operations per exchange`, `${signs.toFixed(0)} sign + ${verifies.toFixed(0)} verify`, 'counted, the reference');
      row('  the same operations alone, per second', (1000 / crypto).toFixed(1), 'reference, same run');
      row('  protocol overhead above the raw crypto cost', `${((perExchange / crypto - 1) * 100).toFixed(0)} %`, durable ? '≤ 50 % (durability is not protocol: see the in-memory row)' : '≤ 50 %');

      // resolves: exchanges left hanging after the payment, then resolved at the third party
      down = true;
      const hanging: Uint8Array[] = [];
      const lossy: Channel = { request: async (b) => {
        const a = await server.handler(b);
        if (openMessage(b).msg.step === 'responderItem') throw new Error('lost');
        return a;
      } };
      for (let i = 0; i < 40; i++) {
        const out = await client.exchange(lossy, { peer: merchant, give: pay, want: receipt.description, fair: true });
        const recs = await (client as unknown as { o: { archive: SqliteArchive } }).o.archive.list({ deal: out.exchangeId });
        hanging.push(recs.find((x) => x.label === 'exchange ttp resolve')!.evidence!);
      }
      down = false;
      t0 = performance.now();
      for (const req of hanging) await ttp.handle(req);
      row('third-party resolves per second (verify, generate, store)', ((hanging.length * 1000) / (performance.now() - t0)).toFixed(1), 'no goal set; ≥ 10 × what a shop\u2019s failures need');
      console.log('');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
