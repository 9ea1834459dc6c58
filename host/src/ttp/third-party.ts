// The fair-exchange third party (SEMPER §2.1, §3.4; ../exchange/PROTOCOLS.md). It decides
// resolve, abort and status requests of exchanges that name it, and every decision is
// signed, stored before it is answered, and final: the same request gets the same answer,
// after a restart too. It never sees an exchange that went well.
//
// Storage is the tamper-evident archive (services/archive.ts): every decision is a record
// of kind `ttp-decision` with the exchange id as its deal, so the store is append-only and
// hash-chained, and `semper archive verify` checks it. Requests of one exchange are
// serialised in this process; one process serves one archive file (see README.md).

import { randomBytes } from '@noble/hashes/utils';
import { sha256 } from '@noble/hashes/sha256';
import { ArchiveStore } from '../services/archive';
import { decodeElement, Element, encodeElement } from '../transfer/items';
import { ExchangeError } from '../exchange/errors';
import { Decision, hasProperty, hex, ItemDescription, openAgreement, OpenedAgreement, openEscrow, openTtpRequest, Outcome, Party, sameBytes, signDecision, TtpRequest, verifyAcceptance, verifyDecision, checkSignature } from '../exchange/formats';
import { ExchangeContext, ExchangeModules, ThirdPartyTools } from '../exchange/modules';

export interface ThirdPartyOptions {
  identity: Party & { privateKey: Uint8Array };
  archive: ArchiveStore;
  modules: ExchangeModules;
  /** ms (default Date.now). */
  now?: () => number;
  random?: (n: number) => Uint8Array;
}

/** Outcomes after which nothing changes any more (an aborted exchange may still revoke transfers shown later). */
const FINAL: readonly Outcome[] = ['resolved', 'expired', 'aborted', 'completed'];

export class ThirdParty {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly now: () => number;
  private readonly tools: ThirdPartyTools;
  /** Requests answered, by op: what the "honest runs never call the third party" tests count. */
  readonly calls = { resolve: 0, abort: 0, status: 0 };

  constructor(private readonly o: ThirdPartyOptions) {
    this.now = o.now ?? Date.now;
    this.tools = { privateKey: o.identity.privateKey, random: o.random ?? randomBytes };
  }

  get party(): Party {
    return { name: this.o.identity.name, publicKey: this.o.identity.publicKey };
  }

  /** One signed request in, the signed decision out. ExchangeError for a request it will not decide on (nothing is stored then). */
  async handle(requestBytes: Uint8Array): Promise<Uint8Array> {
    const { request, sign1 } = openTtpRequest(requestBytes);
    const opened = openAgreement(request.agreement);
    const a = opened.agreement;
    if (!sameBytes(a.ttp.publicKey, this.o.identity.publicKey)) throw new ExchangeError('REFUSED', `the agreement names another third party (${a.ttp.name})`, 'ttp');
    const requester = [a.originator, a.responder].find((p) => {
      try {
        checkSignature(sign1, p.publicKey, 'request');
        return true;
      } catch (_e) {
        return false;
      }
    });
    if (!requester) throw new ExchangeError('BAD_SIGNATURE', 'the request is signed by neither party of the agreement');
    this.calls[request.op]++;
    const key = hex(a.id);
    const run = (this.locks.get(key) ?? Promise.resolve()).then(() => this.decide(request, opened, requester, requestBytes));
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => this.locks.get(key) === tail && this.locks.delete(key));
    return run;
  }

  /** The last stored decision on an exchange (bytes and decoded), if any. */
  async decisionOf(exchangeId: Uint8Array): Promise<{ bytes: Uint8Array; decision: Decision } | undefined> {
    const recs = await this.o.archive.list({ deal: hex(exchangeId), kind: 'ttp-decision' });
    const last = recs[recs.length - 1];
    if (!last?.evidence) return undefined;
    // a fresh plain Uint8Array, as a fresh decision is (the CBOR decoder may decorate the array it reads)
    return { bytes: Uint8Array.from(last.evidence), decision: verifyDecision(last.evidence, this.o.identity.publicKey) };
  }

  private async decide(r: TtpRequest, opened: OpenedAgreement, requester: Party, requestBytes: Uint8Array): Promise<Uint8Array> {
    const a = opened.agreement;
    const now = this.now();
    const ctx: ExchangeContext = { agreement: a, agreementHash: opened.hash, now };
    const stored = await this.decisionOf(a.id);
    if (stored && !sameBytes(stored.decision.agreementHash, opened.hash)) throw new ExchangeError('WRONG_EXCHANGE', 'this exchange id was decided under another agreement: a replayed or forged agreement');
    const byOriginator = requester.publicKey === a.originator.publicKey;

    if (a.protocol === 'plain/1') throw new ExchangeError('REFUSED', 'a plain exchange has no third party');

    if (a.protocol === 'gen-ev/1') {
      if (r.op === 'abort') throw new ExchangeError('REFUSED', 'gen-ev/1 has no abort: the originator asks for the status, which is final after the deadline');
      if (stored) return stored.bytes;
      if (now > a.deadline) return this.store(ctx, requester, requestBytes, { outcome: 'expired', reason: 'nobody resolved the exchange before its deadline; it did not happen' });
      if (r.op === 'status') return this.unstored(ctx, 'open', `undecided; the responder may resolve until ${new Date(a.deadline).toISOString()}`);
      if (byOriginator) throw new ExchangeError('REFUSED', 'only the responder resolves a gen-ev/1 exchange');
      return this.resolve(r, opened, ctx, requester, requestBytes);
    }

    // rev-rev/1
    if (r.op === 'resolve') throw new ExchangeError('REFUSED', 'rev-rev/1 is undone, not resolved: ask to abort');
    if (stored && stored.decision.outcome === 'completed') return stored.bytes;
    if (!stored && now > a.deadline) return this.store(ctx, requester, requestBytes, { outcome: 'completed', reason: 'nobody aborted the exchange before its deadline; both transfers stand' });
    if (r.op === 'status') return stored ? stored.bytes : this.unstored(ctx, 'open', `undecided; either party may abort until ${new Date(a.deadline).toISOString()}`);
    return this.abort(r, ctx, requester, requestBytes, stored?.decision);
  }

  private async resolve(r: TtpRequest, opened: OpenedAgreement, ctx: ExchangeContext, requester: Party, requestBytes: Uint8Array): Promise<Uint8Array> {
    const a = opened.agreement;
    if (!r.acceptance) throw new ExchangeError('MALFORMED', 'a resolve needs the responder\u2019s countersignature of the agreement', 'acceptance');
    verifyAcceptance(r.acceptance, opened);
    if (r.items.length !== 1) throw new ExchangeError('MALFORMED', 'a resolve carries exactly one item: the responder\u2019s', 'items');
    const evidence = r.items[0];
    const responderItem = this.element(evidence);
    // external verifiability: the responder's item is what was agreed, bound to this exchange
    const rm = this.o.modules.get(a.responderItem.type);
    rm.verify(responderItem, a.responderItem, ctx);
    await rm.confirm?.(responderItem, a.responderItem, ctx);
    const generation = this.o.modules.generation(a.originatorItem);
    if (generation === 'affidavit') {
      const gen = this.o.modules.get(a.originatorItem.type).generate;
      if (!gen) throw new ExchangeError('UNKNOWN_ITEM', 'the originator\u2019s item cannot be generated');
      const replacement = gen.call(this.o.modules.get(a.originatorItem.type), a.originatorItem, evidence, ctx, this.tools);
      return this.store(ctx, requester, requestBytes, { outcome: 'resolved', generated: [replacement], forwarded: [evidence], reason: 'the responder\u2019s item verified; this affidavit stands in for the originator\u2019s' });
    }
    if (!r.escrow || !a.escrowHash) throw new ExchangeError('MALFORMED', 'the originator\u2019s item is generated from its escrow, and the request carries none (or the agreement commits to none)', 'escrow');
    if (!sameBytes(sha256(r.escrow), a.escrowHash)) throw new ExchangeError('MISMATCH', 'the escrow is not the one the agreement commits to', 'escrow');
    let original: Element | undefined;
    let why = '';
    try {
      original = this.element(openEscrow(r.escrow, a.id, this.party, this.o.identity.privateKey));
      this.o.modules.get(a.originatorItem.type).verify(original, a.originatorItem, ctx);
    } catch (e) {
      original = undefined;
      why = (e as Error).message;
    }
    if (original) return this.store(ctx, requester, requestBytes, { outcome: 'resolved', generated: [original], forwarded: [evidence], reason: 'the responder\u2019s item verified; the originator\u2019s item opened from its escrow' });
    // the originator escrowed something else: it cheated. The responder's transfer is undone if it can be.
    const revocable = hasProperty(this.o.modules.effectiveProperties(a.responderItem), 'revocable');
    const refunds = revocable ? (this.o.modules.get(a.responderItem.type).revoke?.(responderItem, a.responderItem, ctx, this.tools) ?? []) : [];
    return this.store(ctx, requester, requestBytes, {
      outcome: 'aborted',
      forwarded: [evidence],
      refunds,
      reason: `the originator\u2019s escrow is not the item it described (${why}); ${revocable ? 'the responder\u2019s transfer is revoked' : 'this decision is the evidence against the originator'}`,
    });
  }

  /**
   * rev-rev/1 abort: every payment of the exchange is revoked as the agreement describes it —
   * not only what the requester shows (a cheating party would show only its own). Items shown are
   * still checked (a forged one is refused); items the modules cannot revoke by description are
   * revoked as shown. Final: a later abort gets the same decision.
   */
  private async abort(r: TtpRequest, ctx: ExchangeContext, requester: Party, requestBytes: Uint8Array, before: Decision | undefined): Promise<Uint8Array> {
    const a = ctx.agreement;
    if (before) return (await this.decisionOf(a.id))!.bytes;
    const shown = r.items.map((bytes) => ({ bytes, el: this.element(bytes) }));
    const matched = shown.map((x) => ({ ...x, desc: this.which(x.el, [a.originatorItem, a.responderItem], ctx) }));
    const refunds: Uint8Array[] = [];
    for (const desc of [a.originatorItem, a.responderItem]) {
      const m = this.o.modules.get(desc.type);
      if (m.revokeDescribed) refunds.push(...m.revokeDescribed(desc, ctx, this.tools));
      else if (m.revoke) for (const x of matched.filter((y) => y.desc === desc)) refunds.push(...m.revoke(x.el, desc, ctx, this.tools));
      else throw new ExchangeError('REFUSED', `a ${desc.type} cannot be revoked`);
    }
    return this.store(ctx, requester, requestBytes, {
      outcome: 'aborted',
      forwarded: shown.map((x) => x.bytes),
      refunds,
      reason: 'aborted on request; every transfer of this exchange is revoked as the agreement describes it',
    });
  }

  /** The description an item matches (the first that verifies). */
  private which(el: Element, descs: ItemDescription[], ctx: ExchangeContext): ItemDescription {
    let last: unknown;
    for (const d of descs) {
      try {
        this.o.modules.get(d.type).verify(el, d, ctx);
        return d;
      } catch (e) {
        last = e;
      }
    }
    throw last instanceof ExchangeError ? last : new ExchangeError('MISMATCH', 'the item is neither side\u2019s item of this exchange');
  }

  private element(bytes: Uint8Array): Element {
    try {
      return decodeElement(bytes);
    } catch (e) {
      throw new ExchangeError('MALFORMED', `an item is not a transfer-layer element: ${(e as Error).message}`, 'items');
    }
  }

  private unstored(ctx: ExchangeContext, outcome: Outcome, reason: string): Uint8Array {
    return signDecision({ exchangeId: ctx.agreement.id, agreementHash: ctx.agreementHash, outcome, generated: [], forwarded: [], refunds: [], time: ctx.now, reason }, this.o.identity.privateKey);
  }

  /** Signs the decision and archives it (with the request it answers) before anyone sees it. */
  private async store(
    ctx: ExchangeContext,
    requester: Party,
    requestBytes: Uint8Array,
    d: { outcome: Outcome; reason: string; generated?: Element[]; forwarded?: Uint8Array[]; refunds?: Uint8Array[] },
  ): Promise<Uint8Array> {
    if (!FINAL.includes(d.outcome)) throw new Error(`internal: ${d.outcome} is not a decision to store`);
    const bytes = Uint8Array.from(signDecision(
      {
        exchangeId: ctx.agreement.id,
        agreementHash: ctx.agreementHash,
        outcome: d.outcome,
        generated: (d.generated ?? []).map(encodeElement),
        forwarded: d.forwarded ?? [],
        refunds: d.refunds ?? [],
        time: ctx.now,
        reason: d.reason,
      },
      this.o.identity.privateKey,
    ));
    const deal = hex(ctx.agreement.id);
    await this.o.archive.append({ kind: 'transfer', deal, counterparty: requester.name, label: 'ttp request', evidence: requestBytes });
    await this.o.archive.append({ kind: 'ttp-decision', deal, counterparty: requester.name, parties: [ctx.agreement.originator.name, ctx.agreement.responder.name], label: `exchange ${d.outcome}`, evidence: bytes, note: d.reason });
    return bytes;
  }
}
