// Two parties, a third party and a bank-less payment check, wired in one process for the
// exchange tests: real keys, real SQLite archives, real signatures; channels in memory with
// hooks to drop, replace or duplicate messages; the third party reached directly with a
// counter and an off switch.

import { p256 } from '@noble/curves/p256';
import { SqliteArchive } from '../../../host/src/services/archive';
import { memoryChannel, Channel } from '../../../host/src/transfer/channel';
import { Element, information, PaymentItem } from '../../../host/src/transfer/items';
import { AccountInstrument, PaymentManager } from '../../../host/src/payment/manager';
import { signRefundCbor } from '../../../host/src/payment/formats';
import { ExchangeManager, ExchangeManagerOptions, Offering, TtpPort } from '../../../host/src/exchange/manager';
import { ExchangeModules, InformationExchangeModule, makeSignature, PaymentExchangeModule, SignatureExchangeModule } from '../../../host/src/exchange/modules';
import { ExchangeContext, informationDescription, paymentDescription, signatureDescription } from '../../../host/src/exchange/modules';
import { openMessage, Party } from '../../../host/src/exchange/formats';
import { sha256 } from '@noble/hashes/sha256';
import { ThirdParty } from '../../../host/src/ttp/third-party';

export interface Keyed extends Party {
  privateKey: Uint8Array;
}

export function keyed(name: string): Keyed {
  const privateKey = p256.utils.randomPrivateKey();
  return { name, privateKey, publicKey: p256.getPublicKey(privateKey, false) };
}

export function modulesFor(payers: Map<string, Uint8Array>): ExchangeModules {
  const payments = new PaymentManager([new AccountInstrument({ payerKey: (a) => payers.get(a) })]);
  return ExchangeModules.withPackages([new PaymentExchangeModule({ verify: (i, e) => payments.verify(i, e), signRefund: signRefundCbor }), new SignatureExchangeModule(), new InformationExchangeModule()]);
}

export interface Clock {
  t: number;
  now: () => number;
}

export function clock(start = Date.UTC(2026, 10, 24, 9)): Clock {
  const c: Clock = { t: start, now: () => c.t };
  return c;
}

export interface Rig {
  buyer: Keyed;
  merchant: Keyed;
  ttpId: Keyed;
  /** The third party the port reaches (a test may put another in its place). */
  ttp: ThirdParty;
  ttpArchive: SqliteArchive;
  port: TtpPort & { calls: number; down: boolean };
  modules: ExchangeModules;
  clock: Clock;
  payers: Map<string, Uint8Array>;
  manager(who: Keyed, extra?: Partial<ExchangeManagerOptions>, archive?: SqliteArchive): { m: ExchangeManager; archive: SqliteArchive };
}

export function rig(opts: { ttpArchivePath?: string } = {}): Rig {
  const buyer = keyed('buyer');
  const merchant = keyed('merchant-shop');
  const ttpId = keyed('ttp');
  const payers = new Map<string, Uint8Array>([['acct-buyer', buyer.publicKey], ['acct-merchant', merchant.publicKey]]);
  const modules = modulesFor(payers);
  const c = clock();
  const ttpArchive = SqliteArchive.open(opts.ttpArchivePath ?? ':memory:', { now: c.now });
  const ttp = new ThirdParty({ identity: ttpId, archive: ttpArchive, modules, now: c.now });
  const port = {
    calls: 0,
    down: false,
    async request(b: Uint8Array) {
      port.calls++;
      if (port.down) throw new Error('third party unreachable');
      return out.ttp.handle(b);
    },
  };
  const out: Rig = {
    buyer,
    merchant,
    ttpId,
    ttp,
    ttpArchive,
    port,
    modules,
    clock: c,
    payers,
    manager(who, extra = {}, archive = SqliteArchive.open(':memory:', { now: c.now })) {
      const m = new ExchangeManager({ identity: who, archive, modules, ttp: { party: { name: ttpId.name, publicKey: ttpId.publicKey }, port }, now: c.now, stepTimeoutMs: 2000, ...extra });
      return { m, archive };
    },
  };
  return out;
}

/** An account payment bound to the exchange (the payer's software key signs the order). */
export function payOffering(payer: Keyed, account: string, amount: number, payee: string, description = paymentDesc(amount, payee)): Offering {
  const inst = new AccountInstrument({ account, privateKey: payer.privateKey, publicKey: payer.publicKey });
  return {
    description,
    make: (ctx: ExchangeContext): Promise<Element> => inst.pay({ payee, amount, currency: 'EUR', txDigest: ctx.agreementHash, time: Math.floor(ctx.now / 1000) }) as Promise<PaymentItem>,
  };
}

export function paymentDesc(amount: number, payee: string): ReturnType<typeof paymentDescription> {
  return paymentDescription(amount, 'EUR', payee);
}

export function receiptOffering(signer: Keyed, text = 'received with thanks'): Offering {
  return { description: signatureDescription(signer, { label: `receipt of ${signer.name}` }), make: async (ctx) => makeSignature(ctx.agreementHash, text, signer.privateKey, { time: ctx.now }) };
}

export function contractOffering(signer: Keyed, contract: Uint8Array): Offering {
  return { description: signatureDescription(signer, { contentHash: sha256(contract), label: `${signer.name} signs the contract` }), make: async (ctx) => makeSignature(ctx.agreementHash, 'I agree to the contract', signer.privateKey, { contentHash: sha256(contract), time: ctx.now }) };
}

export function infoOffering(data: Uint8Array, mediaType = 'application/pdf'): Offering {
  return { description: informationDescription(mediaType, data), make: async () => information(mediaType, data) };
}

/** A channel to `server` whose requests and answers a test can drop or change. */
export function line(server: ExchangeManager, hooks: { dropAnswerOf?: string; dropRequestOf?: string; onAnswer?: (b: Uint8Array) => Uint8Array } = {}): Channel {
  const inner = memoryChannel(server.handler, { onAnswer: hooks.onAnswer });
  return {
    async request(b, signal) {
      const step = openMessage(b).msg.step;
      if (hooks.dropRequestOf === step) throw new Error(`lost: ${step}`);
      const answer = await inner.request(b, signal);
      if (hooks.dropAnswerOf === step) throw new Error(`answer to ${step} lost`);
      return answer;
    },
  };
}

/** Waits until `cond` holds (polling; no timing assertion: the limit only ends a hung test with a message). */
export async function until(cond: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > limitMs) throw new Error(`waited ${limitMs} ms for ${what}`);
    await new Promise((ok) => setTimeout(ok, 10));
  }
}
