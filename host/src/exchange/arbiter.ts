// The arbiter (seed §1.2, [AsHS98]): given the evidence one party archived of an exchange,
// it checks every signature and item and states who is owed what, and why. It trusts
// nothing in the evidence but the signatures: the agreement must be signed by the
// originator it names, the third party's decisions by the third party the agreement names,
// the items must verify against the descriptions agreed (the same modules the parties use).

import { ArchivedRecord } from '../services/archive';
import { decodeElement, Element } from '../transfer/items';
import { ExchangeError } from './errors';
import { Agreement, checkSignature, Decision, Fields, hex, sameBytes, openAgreement, OpenedAgreement, openMessage, verifyAcceptance, verifyDecision } from './formats';
import { ExchangeModules } from './modules';

export interface Verdict {
  exchangeId: string;
  protocol: string;
  originator: string;
  responder: string;
  ttp: string;
  /** completed, resolved, aborted, expired (the third party's), or open: what the evidence shows. */
  outcome: 'completed' | 'resolved' | 'aborted' | 'expired' | 'open';
  /** Who is owed what, in words. */
  owed: string[];
  /** Each piece of evidence and what it proved. */
  findings: string[];
}

function describe(a: Agreement, side: 'originator' | 'responder'): string {
  return side === 'originator' ? `${a.originator.name}'s ${a.originatorItem.label}` : `${a.responder.name}'s ${a.responderItem.label}`;
}

/** Judges one exchange from the records of one party's archive (already chain-verified). */
export function judge(records: readonly ArchivedRecord[], modules: ExchangeModules): Verdict {
  let opened: OpenedAgreement | undefined;
  let acceptance: Uint8Array | undefined;
  let rItem: Element | undefined;
  let oItem: Element | undefined;
  let decision: Decision | undefined;
  const findings: string[] = [];
  const messages = records.filter((r) => r.label?.startsWith('exchange ') && / (sent|received)$/.test(r.label) && r.evidence);
  for (const r of messages) {
    const { msg } = openMessage(r.evidence!);
    const f = new Fields(msg.body, msg.step);
    if (msg.step === 'agreement') {
      opened = openAgreement(f.bytes(1));
      findings.push(`agreement ${hex(opened.agreement.id)} (${opened.agreement.protocol}) signed by the originator ${opened.agreement.originator.name}: valid`);
    }
  }
  if (!opened) throw new ExchangeError('MALFORMED', 'the evidence holds no signed agreement: there is nothing to judge');
  const a = opened.agreement;
  const ctx = { agreement: a, agreementHash: opened.hash, now: a.created };
  const check = (el: Element, side: 'originator' | 'responder'): boolean => {
    const desc = side === 'originator' ? a.originatorItem : a.responderItem;
    try {
      modules.get(desc.type).verify(el, desc, ctx);
      findings.push(`${describe(a, side)}: present and as agreed`);
      return true;
    } catch (e) {
      findings.push(`${describe(a, side)}: present but NOT as agreed (${(e as Error).message})`);
      return false;
    }
  };
  for (const r of messages) {
    const { msg, sign1 } = openMessage(r.evidence!);
    const sender = [a.originator, a.responder].find((p) => p.name === msg.sender);
    if (!sender) throw new ExchangeError('BAD_SIGNATURE', `a message from ${msg.sender}, who is not a party of the agreement`);
    checkSignature(sign1, sender.publicKey, `${msg.step} message of ${msg.sender}`);
    if (!sameBytes(msg.exchangeId, a.id) && msg.step !== 'failed') throw new ExchangeError('WRONG_EXCHANGE', `a ${msg.step} message of another exchange`);
    const f = new Fields(msg.body, msg.step);
    if (msg.step === 'responderItem') {
      try {
        verifyAcceptance(f.bytes(1), opened);
        acceptance = f.bytes(1);
        findings.push(`countersignature of the responder ${a.responder.name}: valid`);
      } catch (e) {
        findings.push(`countersignature of the responder: INVALID (${(e as Error).message})`);
      }
      const el = decodeElement(f.bytes(2));
      if (check(el, 'responder')) rItem = el;
    } else if (msg.step === 'originatorItem') {
      const el = decodeElement(f.bytes(1));
      if (check(el, 'originator')) oItem = el;
    }
  }
  for (const r of records.filter((x) => x.kind === 'ttp-decision' && x.evidence)) {
    try {
      decision = verifyDecision(r.evidence!, a.ttp.publicKey, opened.hash);
      findings.push(`decision of the third party ${a.ttp.name}: ${decision.outcome}, signed and about this agreement (${decision.reason})`);
    } catch (e) {
      findings.push(`a third-party decision that does NOT verify: ${(e as Error).message}`);
    }
  }
  const base = { exchangeId: hex(a.id), protocol: a.protocol, originator: a.originator.name, responder: a.responder.name, ttp: a.ttp.name, findings };
  if (decision && decision.outcome !== 'open') {
    const owed: string[] = [];
    if (decision.outcome === 'resolved') {
      owed.push(`${a.responder.name} is owed ${a.originatorItem.label}: the third party's replacement stands in for it and is final`);
      owed.push(`${a.originator.name} is owed ${a.responderItem.label}: it was transferred (the third party checked it and forwards it)`);
    } else if (decision.outcome === 'aborted') {
      owed.push(`the exchange is undone: ${decision.refunds.length} transfer(s) revoked by refund authorisations; nobody keeps the other's item`);
    } else if (decision.outcome === 'expired') {
      owed.push('the exchange did not happen: nothing was resolved before the deadline; nobody owes anything under it');
    } else owed.push('both transfers stand: nobody aborted before the deadline');
    return { ...base, outcome: decision.outcome, owed };
  }
  if (rItem && oItem && acceptance) return { ...base, outcome: 'completed', owed: ['nothing: both items were exchanged as agreed'] };
  const owed: string[] = [];
  if (rItem && acceptance && !oItem) {
    owed.push(`${a.responder.name} gave ${a.responderItem.label} and is owed ${a.originatorItem.label}; ${a.protocol === 'gen-ev/1' ? 'it may resolve at the third party until the deadline' : 'it may abort at the third party until the deadline'} (${new Date(a.deadline).toISOString()})`);
  } else owed.push('no item of value is shown to have changed hands in this evidence');
  return { ...base, outcome: 'open', owed };
}
