// The exchange manager (SEMPER §3.4): exchanges two items with a peer, fairly when asked —
// either both parties get what they expected, or neither does — with the third party only
// when something goes wrong. Generic: the protocol follows from the items' exchange-enabling
// properties (protocol.ts), the item types are behind exchange modules (modules.ts).
//
// A conversation runs over a request/answer Channel (the transfer layer's memory or HTTP
// channel): the proposer is the client. Who sends which protocol message when
// (PROTOCOLS.md) follows from the protocol and from which side originates:
//
//   server originates:  C propose → S agreement → C responderItem → S originatorItem
//   client originates:  C propose → S terms → C agreement → S responderItem → C originatorItem → S done
//
// Every message is signed by its sender and archived (deal = exchange id) before the next
// step; a party that crashes resumes from its archive (`recover`). What is still owed after a
// failed step is asked of the third party: resolve (gen-ev/1, responder), abort (rev-rev/1),
// status (the originator of gen-ev/1, at the deadline).

import { randomBytes } from '@noble/hashes/utils';
import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { ArchiveStore } from '../services/archive';
import { Channel } from '../transfer/channel';
import { decodeElement, Element, encodeElement } from '../transfer/items';
import { ExchangeError, isExchangeError } from './errors';
import {
  Agreement,
  checkSignature,
  Decision,
  descriptionOf,
  descriptionToCbor,
  ExchangeMessage,
  Fields,
  hex,
  ItemDescription,
  makeEscrow,
  openAgreement,
  OpenedAgreement,
  openMessage,
  Outcome,
  Party,
  PROTOCOLS,
  ProtocolName,
  sameBytes,
  signAcceptance,
  signAgreement,
  signMessage,
  signTtpRequest,
  StepName,
  TtpOp,
  verifyAcceptance,
  verifyDecision,
} from './formats';
import { ExchangeContext, ExchangeModules } from './modules';
import { chooseProtocol } from './protocol';

/** The third party as a party reaches it: one signed request, the signed decision back. */
export interface TtpPort {
  request(signedRequest: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/** What one side gives: its description, and the item made once the agreement (and its hash) exists. */
export interface Offering {
  description: ItemDescription;
  /** Makes the item, bound to the exchange (a payment's transaction digest, a receipt's agreement hash). May involve the user. */
  make(ctx: ExchangeContext): Promise<Element>;
}

export interface Proposal {
  exchangeId: string;
  peer: Party;
  /** What the proposer gives. */
  gives: ItemDescription;
  /** What the proposer wants from this party. */
  wants: ItemDescription;
  fair: boolean;
  /** Application data the proposer sent along (e.g. the order the payment is for); archived with the proposal. */
  context?: Uint8Array;
}

export interface ExchangeManagerOptions {
  identity: Party & { privateKey: Uint8Array };
  archive: ArchiveStore;
  modules: ExchangeModules;
  ttp: { party: Party; port: TtpPort };
  /** Server side: what this party gives for a proposal (throw ExchangeError REFUSED to decline). */
  respond?(p: Proposal): Offering | Promise<Offering>;
  /** Keys of known peers by name; an unknown proposer's key is taken from its proposal. */
  peers?(name: string): Uint8Array | undefined;
  /** How long one step may take before the party recovers (ms, default 30 s). */
  stepTimeoutMs?: number;
  /** The deadline a proposer asks for, from now (ms, default 10 min). */
  deadlineMs?: number;
  now?(): number;
  /**
   * The application's look at the peer's item once it verified — for the originator before it
   * gives its own — e.g. a payee deposits the payment at the bank first. Throw to refuse: the
   * originator then gives nothing (the responder may still resolve or abort at the third party);
   * a responder treats the item as not received and recovers through the third party.
   */
  accept?(item: Element, ctx: ExchangeContext & { exchangeId: string; peer: Party }): void | Promise<void>;
  /** Test hook: the server stops (as if it crashed) after archiving a step, before answering. */
  crashAfter?: StepName;
}

export type Role = 'originator' | 'responder';

export interface ExchangeOutcome {
  exchangeId: string;
  protocol: ProtocolName;
  role: Role;
  /**
   * completed: both items went as agreed; resolved: the third party stood in (received holds
   * its replacement or the forwarded item); aborted: the third party undid the transfers
   * (refunds); expired: the exchange did not happen; failed: nothing was given; pending: this
   * side gave nothing usable and learns the final state from the third party at `deadline`.
   */
  outcome: Outcome | 'failed' | 'pending';
  /** The peer's item, or what stands in for it. */
  received?: Element;
  decision?: Uint8Array;
  refunds: Uint8Array[];
  deadline: number;
  reason: string;
}

/** One party's state of one exchange, rebuilt from its archive after a restart. */
interface Session {
  id: Uint8Array;
  role: Role;
  peer: Party;
  mine: ItemDescription;
  theirs: ItemDescription;
  fair: boolean;
  protocol?: ProtocolName;
  opened?: OpenedAgreement;
  acceptance?: Uint8Array;
  escrow?: Uint8Array;
  /** Encoded elements. */
  sent?: Uint8Array;
  received?: Uint8Array;
  offering?: Offering;
  final?: ExchangeOutcome;
  /** Recovery through the third party has begun: the peer's late messages are refused. */
  recovering?: boolean;
  /** Server: the deadline the proposer asked for, and what it sent along. */
  proposedDeadline?: number;
  context?: Uint8Array;
  timer?: NodeJS.Timeout;
}

const idHex = hex;

export class ExchangeManager {
  private readonly sessions = new Map<string, Session>();
  private readonly now: () => number;
  /** Messages sent and TTP requests made: what the honest-run tests count. */
  readonly stats = { messages: 0, ttpRequests: 0 };

  constructor(private readonly o: ExchangeManagerOptions) {
    this.now = o.now ?? Date.now;
  }

  get party(): Party {
    return { name: this.o.identity.name, publicKey: this.o.identity.publicKey };
  }

  // ---------------------------------------------------------------- client (proposer)

  /** Proposes and runs an exchange with the server behind `channel`. Never throws for a peer's misbehaviour: the outcome says what happened. */
  async exchange(channel: Channel, r: { peer: Party; give: Offering; want: ItemDescription; fair: boolean; deadlineMs?: number; signal?: AbortSignal; context?: Uint8Array }): Promise<ExchangeOutcome> {
    const s: Session = { id: randomBytes(16), role: 'responder', peer: r.peer, mine: r.give.description, theirs: r.want, fair: r.fair, offering: r.give };
    this.sessions.set(idHex(s.id), s);
    const deadline = this.now() + (r.deadlineMs ?? this.o.deadlineMs ?? 600_000);
    const propose = new Map<number, HostCbor>([
      [1, [this.party.name, this.party.publicKey]],
      [2, descriptionToCbor(r.give.description)],
      [3, descriptionToCbor(r.want)],
      [4, r.fair],
      [5, [...PROTOCOLS]],
      [6, deadline],
    ]);
    if (r.context) propose.set(7, r.context);
    let answer: ExchangeMessage;
    try {
      answer = await this.call(channel, s, 'propose', propose, r.signal);
    } catch (e) {
      return this.finish(s, { outcome: 'failed', reason: `the peer did not take up the proposal: ${(e as Error).message}`, deadline });
    }
    try {
      if (answer.step === 'agreement') {
        // the server originates; this side responds
        this.takeAgreement(s, answer.body, deadline);
        return await this.sendResponderItem(channel, s, r.signal);
      }
      if (answer.step !== 'terms') throw new ExchangeError('MALFORMED', `expected terms or an agreement, got ${answer.step}`);
      // the client originates
      const t = new Fields(answer.body, 'terms').only([1, 2]);
      const theirs = descriptionOf(t.map(1));
      this.checkPromised(theirs, r.want);
      const protocol = t.text(2, 16) as ProtocolName;
      const choice = chooseProtocol(this.o.modules.effectiveProperties(r.give.description), this.o.modules.effectiveProperties(theirs), r.fair);
      if (choice.protocol !== protocol || choice.originator !== 'first') throw new ExchangeError('NO_PROTOCOL', `the peer chose ${protocol}; these items call for ${choice.protocol} with the ${choice.originator === 'first' ? 'proposer' : 'peer'} originating`);
      s.role = 'originator';
      s.theirs = theirs;
      return await this.originate(channel, s, protocol, deadline, r.signal);
    } catch (e) {
      return this.recoverSession(s, e);
    }
  }

  private async originate(channel: Channel, s: Session, protocol: ProtocolName, deadline: number, signal?: AbortSignal): Promise<ExchangeOutcome> {
    const a: Agreement = {
      id: s.id,
      protocol,
      originator: this.party,
      responder: s.peer,
      ttp: this.o.ttp.party,
      originatorItem: s.mine,
      responderItem: s.theirs,
      deadline,
      created: this.now(),
    };
    const body = new Map<number, HostCbor>();
    if (protocol === 'gen-ev/1' && this.o.modules.generation(s.mine) === 'escrow') {
      // the escrow needs the item, and the item may bind to the agreement hash: escrowed items are those that do not (information)
      const item = await s.offering!.make({ agreement: a, agreementHash: new Uint8Array(32), now: this.now() });
      s.sent = encodeElement(item);
      s.escrow = makeEscrow(s.sent, s.id, this.o.ttp.party);
      a.escrowHash = sha256(s.escrow);
      body.set(2, s.escrow);
    }
    const signed = signAgreement(a, this.o.identity.privateKey);
    s.opened = openAgreement(signed);
    s.protocol = protocol;
    body.set(1, signed);
    const answer = await this.call(channel, s, 'agreement', body, signal);
    if (answer.step !== 'responderItem') throw new ExchangeError('MALFORMED', `expected the responder's item, got ${answer.step}`);
    this.takeResponderItem(s, answer.body);
    await this.accepted(s);
    // R's item verified (and accepted): now O's own item
    if (!s.sent) s.sent = encodeElement(await s.offering!.make(this.context(s)));
    try {
      await this.call(channel, s, 'originatorItem', new Map<number, HostCbor>([[1, s.sent]]), signal);
    } catch (e) {
      // gen-ev/1: the responder has the item or resolves for a replacement; either way this side is done.
      // rev-rev/1: the responder may abort for want of it; the final state is the third party's at the deadline.
      if (protocol === 'rev-rev/1') return this.finish(s, { outcome: 'pending', received: decodeElement(s.received!), reason: `the responder did not confirm the item (${(e as Error).message}); final at the deadline`, deadline });
    }
    return this.finish(s, { outcome: 'completed', received: decodeElement(s.received!), reason: 'both items exchanged as agreed', deadline });
  }

  private takeAgreement(s: Session, body: HostCborMap, proposedDeadline: number): void {
    const f = new Fields(body, 'agreement').only([1, 2]);
    const opened = openAgreement(f.bytes(1));
    const a = opened.agreement;
    if (!sameBytes(a.id, s.id)) throw new ExchangeError('WRONG_EXCHANGE', 'the agreement is for another exchange');
    if (!sameBytes(a.originator.publicKey, s.peer.publicKey) || a.originator.name !== s.peer.name) throw new ExchangeError('BAD_SIGNATURE', 'the agreement is not signed by the peer');
    if (!sameBytes(a.responder.publicKey, this.party.publicKey)) throw new ExchangeError('MISMATCH', 'the agreement names another responder');
    if (!sameBytes(a.ttp.publicKey, this.o.ttp.party.publicKey)) throw new ExchangeError('MISMATCH', 'the agreement names another third party');
    if (a.deadline > proposedDeadline || a.deadline <= this.now()) throw new ExchangeError('DEADLINE', 'the agreement\u2019s deadline is not the one proposed');
    this.checkPromised(a.responderItem, s.mine, true);
    this.checkPromised(a.originatorItem, s.theirs);
    const choice = chooseProtocol(this.o.modules.effectiveProperties(a.originatorItem), this.o.modules.effectiveProperties(a.responderItem), s.fair);
    if (choice.protocol !== a.protocol) throw new ExchangeError('NO_PROTOCOL', `the agreement says ${a.protocol}; these items call for ${choice.protocol}`);
    if (a.protocol === 'gen-ev/1' && this.o.modules.generation(a.originatorItem) === 'escrow') {
      const escrow = f.has(2) ? f.bytes(2) : undefined;
      if (!escrow || !a.escrowHash || !sameBytes(sha256(escrow), a.escrowHash)) throw new ExchangeError('MISMATCH', 'the originator\u2019s item must come escrowed to the third party, and the agreement commit to it');
      s.escrow = escrow;
    }
    s.opened = opened;
    s.protocol = a.protocol;
    s.role = 'responder';
  }

  private async sendResponderItem(channel: Channel, s: Session, signal?: AbortSignal): Promise<ExchangeOutcome> {
    s.acceptance = signAcceptance(s.opened!.hash, this.o.identity.privateKey);
    s.sent = encodeElement(await s.offering!.make(this.context(s)));
    const answer = await this.call(channel, s, 'responderItem', new Map<number, HostCbor>([[1, s.acceptance], [2, s.sent]]), signal);
    if (answer.step !== 'originatorItem') throw new ExchangeError('MALFORMED', `expected the originator's item, got ${answer.step}`);
    this.takeOriginatorItem(s, answer.body);
    await this.accepted(s);
    return this.finish(s, { outcome: 'completed', received: decodeElement(s.received!), reason: 'both items exchanged as agreed', deadline: s.opened!.agreement.deadline });
  }

  private takeResponderItem(s: Session, body: HostCborMap): void {
    const f = new Fields(body, 'responderItem').only([1, 2]);
    const acceptance = f.bytes(1);
    verifyAcceptance(acceptance, s.opened!);
    const item = f.bytes(2);
    this.o.modules.get(s.theirs.type).verify(this.element(item), s.theirs, this.context(s));
    s.acceptance = acceptance;
    s.received = item;
  }

  private takeOriginatorItem(s: Session, body: HostCborMap): void {
    const f = new Fields(body, 'originatorItem').only([1]);
    const item = f.bytes(1);
    this.o.modules.get(s.theirs.type).verify(this.element(item), s.theirs, this.context(s));
    s.received = item;
  }

  // ---------------------------------------------------------------- server

  /** The server side of conversations, as a channel handler (memoryChannel, serveTransfers-style HTTP). */
  readonly handler = async (bytes: Uint8Array): Promise<Uint8Array> => {
    let msg: ExchangeMessage | undefined;
    try {
      const opened = openMessage(bytes);
      msg = opened.msg;
      const s = msg.step === 'propose' ? this.acceptProposal(msg) : this.sessions.get(idHex(msg.exchangeId));
      if (!s) throw new ExchangeError('UNKNOWN_EXCHANGE', 'no such exchange here');
      if (msg.sender !== s.peer.name) throw new ExchangeError('BAD_SIGNATURE', 'the message is not from this exchange\u2019s peer');
      checkSignature(opened.sign1, s.peer.publicKey, 'message');
      await this.archiveMessage(s, msg.step, bytes, 'received');
      const answer = await this.serve(s, msg);
      const out = signMessage({ exchangeId: s.id, step: answer.step, sender: this.party.name, body: answer.body }, this.o.identity.privateKey);
      await this.archiveMessage(s, answer.step, out, 'sent');
      if (this.o.crashAfter === answer.step) throw new ExchangeError('CHANNEL', 'crashed (test)');
      return out;
    } catch (e) {
      const err = isExchangeError(e) ? e : new ExchangeError('REFUSED', 'internal error');
      if (this.o.crashAfter && err.message === 'crashed (test)') throw e;
      return signMessage({ exchangeId: msg?.exchangeId ?? new Uint8Array(16), step: 'failed', sender: this.party.name, body: new Map<number, HostCbor>([[1, err.code], [2, err.message]]) }, this.o.identity.privateKey);
    }
  };

  private acceptProposal(msg: ExchangeMessage): Session {
    if (this.sessions.has(idHex(msg.exchangeId))) throw new ExchangeError('WRONG_EXCHANGE', 'this exchange id is taken');
    const f = new Fields(msg.body, 'propose').only([1, 2, 3, 4, 5, 6, 7]);
    const p = f.m.get(1);
    const [name, key] = Array.isArray(p) && p.length === 2 ? p : [];
    if (typeof name !== 'string' || name.length === 0 || !(key instanceof Uint8Array) || key.length !== 65) return f.fail(1, '[name, key] expected');
    const known = this.o.peers?.(name);
    if (known && !sameBytes(known, key)) throw new ExchangeError('BAD_SIGNATURE', `${name} is known here with another key`);
    const fair = f.m.get(4);
    if (typeof fair !== 'boolean') return f.fail(4, 'boolean expected');
    const s: Session = { id: msg.exchangeId, role: 'originator', peer: { name, publicKey: key }, theirs: descriptionOf(f.map(2)), mine: descriptionOf(f.map(3)), fair };
    // the deadline proposed: kept in the session until the agreement exists
    s.proposedDeadline = f.uint(6);
    if (f.has(7)) s.context = f.bytes(7, undefined, 64 * 1024);
    this.sessions.set(idHex(s.id), s);
    return s;
  }

  private async serve(s: Session, msg: ExchangeMessage): Promise<{ step: StepName; body: HostCborMap }> {
    switch (msg.step) {
      case 'propose': {
        if (!this.o.respond) throw new ExchangeError('REFUSED', 'this party takes no proposals');
        const offering = await this.o.respond({ exchangeId: idHex(s.id), peer: s.peer, gives: s.theirs, wants: s.mine, fair: s.fair, ...(s.context ? { context: s.context } : {}) });
        this.checkPromised(offering.description, s.mine);
        s.mine = offering.description;
        s.offering = offering;
        const deadline = Math.min((s.proposedDeadline ?? 0), this.now() + (this.o.deadlineMs ?? 600_000));
        const choice = chooseProtocol(this.o.modules.effectiveProperties(s.theirs), this.o.modules.effectiveProperties(s.mine), s.fair);
        s.protocol = choice.protocol;
        if (choice.originator === 'first') {
          s.role = 'responder';
          return { step: 'terms', body: new Map<number, HostCbor>([[1, descriptionToCbor(s.mine)], [2, choice.protocol]]) };
        }
        s.role = 'originator';
        const a: Agreement = { id: s.id, protocol: choice.protocol, originator: this.party, responder: s.peer, ttp: this.o.ttp.party, originatorItem: s.mine, responderItem: s.theirs, deadline, created: this.now() };
        const body = new Map<number, HostCbor>();
        if (choice.protocol === 'gen-ev/1' && this.o.modules.generation(s.mine) === 'escrow') {
          s.sent = encodeElement(await offering.make({ agreement: a, agreementHash: new Uint8Array(32), now: this.now() }));
          s.escrow = makeEscrow(s.sent, s.id, this.o.ttp.party);
          a.escrowHash = sha256(s.escrow);
          body.set(2, s.escrow);
        }
        const signed = signAgreement(a, this.o.identity.privateKey);
        s.opened = openAgreement(signed);
        body.set(1, signed);
        return { step: 'agreement', body };
      }
      case 'agreement': {
        if (s.role !== 'responder' || s.opened) throw new ExchangeError('REFUSED', 'no agreement expected now');
        this.takeAgreement(s, msg.body, (s.proposedDeadline ?? 0));
        s.acceptance = signAcceptance(s.opened!.hash, this.o.identity.privateKey);
        s.sent = encodeElement(await s.offering!.make(this.context(s)));
        this.watch(s);
        return { step: 'responderItem', body: new Map<number, HostCbor>([[1, s.acceptance], [2, s.sent]]) };
      }
      case 'responderItem': {
        if (s.role !== 'originator' || !s.opened || s.received || s.recovering) throw new ExchangeError('REFUSED', 'no responder item expected now');
        this.takeResponderItem(s, msg.body);
        await this.accepted(s);
        if (!s.sent) s.sent = encodeElement(await s.offering!.make(this.context(s)));
        await this.finish(s, { outcome: 'completed', received: decodeElement(s.received!), reason: 'both items exchanged as agreed', deadline: s.opened.agreement.deadline });
        return { step: 'originatorItem', body: new Map<number, HostCbor>([[1, s.sent]]) };
      }
      case 'originatorItem': {
        if (s.role !== 'responder' || !s.sent || s.final || s.recovering) throw new ExchangeError('REFUSED', 'no originator item expected now (this party is recovering the exchange through the third party)');
        this.takeOriginatorItem(s, msg.body);
        await this.accepted(s).catch((e: unknown) => {
          // the item came but does not stand (e.g. the bank refused it): as if it had not come
          s.received = undefined;
          this.recoverSession(s, e).catch(() => undefined);
          throw e;
        });
        await this.finish(s, { outcome: 'completed', received: decodeElement(s.received!), reason: 'both items exchanged as agreed', deadline: s.opened!.agreement.deadline });
        return { step: 'done', body: new Map() };
      }
      default:
        throw new ExchangeError('REFUSED', `a ${msg.step} message is not a request`);
    }
  }

  /** The server as responder waits for the originator's item; past the step timeout it recovers. */
  private watch(s: Session): void {
    const ms = this.o.stepTimeoutMs ?? 30_000;
    s.timer = setTimeout(() => {
      // a third party that cannot be reached ends as a pending outcome; should the archive fail, the
      // exchange stays open and recover() finishes it at the next start
      if (!s.final) this.recoverSession(s, new ExchangeError('CHANNEL', 'the originator\u2019s item did not come in time')).catch(() => undefined);
    }, ms);
    s.timer.unref?.();
  }

  // ---------------------------------------------------------------- recovery

  /** The outcome of an exchange this party took part in, when known. */
  outcomeOf(exchangeId: string): ExchangeOutcome | undefined {
    return this.sessions.get(exchangeId)?.final;
  }

  /** Waits for (or brings about) the final outcome of an exchange: recovers it now if it is not final. */
  async settle(exchangeId: string): Promise<ExchangeOutcome> {
    const s = this.sessions.get(exchangeId);
    if (!s) throw new ExchangeError('UNKNOWN_EXCHANGE', `no exchange ${exchangeId} here`);
    if (s.final && s.final.outcome !== 'pending') return s.final;
    return this.recoverSession(s, new ExchangeError('CHANNEL', 'settling'));
  }

  /**
   * After a failed step: what this side gave decides what it asks of the third party.
   * gen-ev/1 responder with its item out → resolve; rev-rev/1 party with an item out → abort;
   * gen-ev/1 originator without the responder's item → status (final after the deadline).
   */
  private async recoverSession(s: Session, cause: unknown): Promise<ExchangeOutcome> {
    if (s.timer) clearTimeout(s.timer);
    if (s.final && s.final.outcome !== 'pending') return s.final;
    // from here on the peer's late messages are refused: what the third party is asked must not race with them
    s.recovering = true;
    const why = (cause as Error).message ?? String(cause);
    const a = s.opened?.agreement;
    const deadline = a?.deadline ?? 0;
    if (!a || !s.protocol) return this.finish(s, { outcome: 'failed', reason: `nothing was agreed or given: ${why}`, deadline });
    const sentUsable = s.sent !== undefined && (s.role === 'responder' ? s.acceptance !== undefined : s.received !== undefined);
    if (s.protocol === 'plain/1') return this.finish(s, { outcome: 'failed', reason: `plain exchange broken off: ${why}`, deadline });
    if (s.protocol === 'gen-ev/1' && s.role === 'responder') {
      if (!sentUsable) return this.finish(s, { outcome: 'failed', reason: `nothing was given: ${why}`, deadline });
      return this.askTtp(s, 'resolve', [s.sent!], why);
    }
    if (s.protocol === 'gen-ev/1') {
      // the originator gave nothing usable without the third party; the status is final after the deadline
      if (this.now() <= deadline) return this.finish(s, { outcome: 'pending', reason: `the responder's item did not come (${why}); the outcome is final at the deadline`, deadline });
      return this.askTtp(s, 'status', [], why);
    }
    // rev-rev/1
    if (!s.sent || (s.role === 'originator' && !s.received)) return this.finish(s, { outcome: 'failed', reason: `nothing was given: ${why}`, deadline });
    if (s.role === 'originator' && s.final?.outcome === 'pending') {
      // the originator sent its item unconfirmed: completed unless the responder aborted; then its own transfer is undone too
      if (this.now() <= deadline) return s.final;
      const status = await this.askTtp(s, 'status', [], why);
      if (status.outcome !== 'aborted') return status;
    }
    return this.askTtp(s, 'abort', [s.sent, ...(s.received ? [s.received] : [])], why);
  }

  private async askTtp(s: Session, op: TtpOp, items: Uint8Array[], why: string): Promise<ExchangeOutcome> {
    const a = s.opened!.agreement;
    const req = signTtpRequest({ op, agreement: s.opened!.signed, acceptance: s.acceptance, items, escrow: op === 'resolve' ? s.escrow : undefined, time: this.now() }, this.o.identity.privateKey);
    this.stats.ttpRequests++;
    await this.o.archive.append({ kind: 'transfer', deal: idHex(s.id), counterparty: a.ttp.name, label: `exchange ttp ${op}`, evidence: req, note: why });
    let bytes: Uint8Array;
    let d: Decision;
    try {
      bytes = await this.o.ttp.port.request(req);
      d = verifyDecision(bytes, a.ttp.publicKey, s.opened!.hash);
    } catch (e) {
      // the third party is unreachable or refused: nothing final; the caller retries (settle)
      return this.finish(s, { outcome: 'pending', reason: `the third party did not decide (${(e as Error).message}); ask again with settle()`, deadline: a.deadline });
    }
    await this.o.archive.append({ kind: 'ttp-decision', deal: idHex(s.id), counterparty: a.ttp.name, label: `exchange ${d.outcome}`, evidence: bytes, note: d.reason });
    if (d.outcome === 'open') return this.finish(s, { outcome: 'pending', decision: bytes, reason: d.reason, deadline: a.deadline });
    let received: Element | undefined;
    if (d.outcome === 'resolved') received = this.element(s.role === 'responder' ? d.generated[0] : d.forwarded[0]);
    else if (s.received) received = undefined;
    return this.finish(s, { outcome: d.outcome, received, decision: bytes, refunds: d.refunds, reason: `${d.reason} (after: ${why})`, deadline: a.deadline });
  }

  /** Re-reads this party's archive and recovers every exchange that is not final (after a restart). */
  async recover(): Promise<ExchangeOutcome[]> {
    const recs = await this.o.archive.list({ kind: 'transfer' });
    const byDeal = new Map<string, Uint8Array[]>();
    const finals = new Set((await this.o.archive.list({ kind: 'ttp-decision' })).map((r) => r.deal));
    for (const r of recs) {
      if (!r.deal || !r.label?.startsWith('exchange ') || !r.evidence) continue;
      if (r.label.startsWith('exchange final')) finals.add(r.deal);
      if (!/ (sent|received)$/.test(r.label)) continue;
      byDeal.set(r.deal, [...(byDeal.get(r.deal) ?? []), r.evidence]);
    }
    const out: ExchangeOutcome[] = [];
    for (const [deal, msgs] of byDeal) {
      if (finals.has(deal)) continue;
      const known = this.sessions.get(deal);
      if (known?.final && known.final.outcome !== 'pending') continue;
      const s = known ?? this.rebuild(msgs);
      if (!s) continue;
      this.sessions.set(deal, s);
      if (s.final?.outcome === 'completed') out.push(await this.finish(s, { ...s.final }));
      else out.push(await this.recoverSession(s, new ExchangeError('CHANNEL', 'resumed after a restart')));
    }
    return out;
  }

  /** A session from its archived messages (this party's view). */
  private rebuild(msgs: Uint8Array[]): Session | undefined {
    let s: Session | undefined;
    let done = false;
    for (const bytes of msgs) {
      const { msg } = openMessage(bytes);
      const f = new Fields(msg.body, msg.step);
      if (msg.step === 'agreement') {
        const opened = openAgreement(f.bytes(1));
        const a = opened.agreement;
        const mineIsO = sameBytes(a.originator.publicKey, this.party.publicKey);
        s = { id: a.id, role: mineIsO ? 'originator' : 'responder', peer: mineIsO ? a.responder : a.originator, mine: mineIsO ? a.originatorItem : a.responderItem, theirs: mineIsO ? a.responderItem : a.originatorItem, fair: a.protocol !== 'plain/1', protocol: a.protocol, opened };
        if (f.has(2)) s.escrow = f.bytes(2);
      } else if (s && msg.step === 'responderItem') {
        s.acceptance = f.bytes(1);
        if (s.role === 'responder') s.sent = f.bytes(2);
        else s.received = f.bytes(2);
      } else if (s && msg.step === 'originatorItem') {
        if (s.role === 'originator') s.sent = f.bytes(1);
        else s.received = f.bytes(1);
      } else if (msg.step === 'done') done = true;
    }
    if (s && s.received && s.sent && s.acceptance) {
      // both items went; only the rev-rev originator without the responder's "done" cannot know the responder did not abort
      const sure = !(s.protocol === 'rev-rev/1' && s.role === 'originator' && !done);
      s.final = { exchangeId: idHex(s.id), protocol: s.protocol!, role: s.role, outcome: sure ? 'completed' : 'pending', received: decodeElement(s.received), refunds: [], deadline: s.opened!.agreement.deadline, reason: sure ? 'both items exchanged as agreed (from the archive)' : 'the item went unconfirmed; final at the deadline' };
    }
    return s;
  }

  // ---------------------------------------------------------------- helpers

  private async accepted(s: Session): Promise<void> {
    if (!this.o.accept) return;
    try {
      await this.o.accept(decodeElement(s.received!), { ...this.context(s), exchangeId: idHex(s.id), peer: s.peer });
    } catch (e) {
      throw isExchangeError(e) ? e : new ExchangeError('REFUSED', `not accepted: ${(e as Error).message}`);
    }
  }

  private context(s: Session): ExchangeContext {
    return { agreement: s.opened!.agreement, agreementHash: s.opened!.hash, now: this.now() };
  }

  private element(bytes: Uint8Array): Element {
    try {
      return decodeElement(bytes);
    } catch (e) {
      throw new ExchangeError('MALFORMED', `not a transfer-layer element: ${(e as Error).message}`);
    }
  }

  /** A description the peer put forward must be the one promised (type and spec; the giver states the properties). */
  private checkPromised(got: ItemDescription, want: ItemDescription, exact = false): void {
    const same = got.type === want.type && sameBytes(encodeCanonical(got.spec), encodeCanonical(want.spec)) && (!exact || got.properties === want.properties);
    if (!same) throw new ExchangeError('MISMATCH', `the peer describes ${got.label}, not ${want.label}`);
  }

  private async call(channel: Channel, s: Session, step: StepName, body: HostCborMap, signal?: AbortSignal): Promise<ExchangeMessage> {
    const out = signMessage({ exchangeId: s.id, step, sender: this.party.name, body }, this.o.identity.privateKey);
    await this.archiveMessage(s, step, out, 'sent');
    this.stats.messages++;
    const timeout = AbortSignal.timeout(this.o.stepTimeoutMs ?? 30_000);
    let answer: Uint8Array;
    try {
      answer = await channel.request(out, signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (e) {
      throw new ExchangeError('CHANNEL', `the peer did not answer: ${(e as Error).message}`);
    }
    const { msg, sign1 } = openMessage(answer);
    if (msg.sender !== s.peer.name) throw new ExchangeError('BAD_SIGNATURE', 'the answer is not from the peer');
    checkSignature(sign1, s.peer.publicKey, 'answer');
    if (!sameBytes(msg.exchangeId, s.id) && msg.step !== 'failed') throw new ExchangeError('WRONG_EXCHANGE', 'the answer is about another exchange');
    await this.archiveMessage(s, msg.step, answer, 'received');
    if (msg.step === 'failed') {
      const f = new Fields(msg.body, 'failed');
      throw new ExchangeError('REFUSED', `the peer refused: ${String(f.m.get(2))}`, String(f.m.get(1)));
    }
    return msg;
  }

  private async archiveMessage(s: Session, step: StepName, bytes: Uint8Array, dir: 'sent' | 'received'): Promise<void> {
    await this.o.archive.append({ kind: 'transfer', deal: idHex(s.id), counterparty: s.peer.name, label: `exchange ${step} ${dir}`, evidence: bytes });
  }

  /** Records the outcome; a final one is archived before it is reported. */
  private async finish(s: Session, r: { outcome: ExchangeOutcome['outcome']; reason: string; deadline: number; received?: Element; decision?: Uint8Array; refunds?: Uint8Array[] }): Promise<ExchangeOutcome> {
    if (s.timer) clearTimeout(s.timer);
    const out: ExchangeOutcome = { exchangeId: idHex(s.id), protocol: s.protocol ?? 'plain/1', role: s.role, outcome: r.outcome, refunds: r.refunds ?? [], deadline: r.deadline, reason: r.reason };
    if (r.received) out.received = r.received;
    if (r.decision) out.decision = r.decision;
    s.final = out;
    if (r.outcome !== 'pending') await this.o.archive.append({ kind: 'transfer', deal: idHex(s.id), counterparty: s.peer.name, label: `exchange final ${r.outcome}`, note: r.reason });
    return out;
  }
}
