// Workflows: a merchant's "terms of business" as data (seed §3.5). A definition says, step by
// step, what the seller gives and what the buyer gives, and which exchange protects them. It
// runs on the buyer's side only if an evaluator the buyer trusts has signed it (the seed's
// certified downloadable commerce services), and both sides check every item against it: the
// buyer's agent never pays for a step the definition does not have, the seller's agent never
// delivers for a payment that is not the one the definition asks.

import { encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { signSign1 } from '../../../shared/src/cose';
import { checkSignature, Fields, openSigned, sameBytes } from '../exchange/formats';
import { commerce, CommerceError, DeliveryKind } from './offer';

/** What the seller gives in the fair exchange: a receipt, the goods with a receipt, or (to a registration) a signed customer credential. */
export type SellerGives = 'receipt' | 'goods-and-receipt' | 'credential';

/** What the buyer gives: a card-signed payment, or the card-signed registration (no money). */
export type BuyerGives = 'payment' | 'registration';

export interface Workflow {
  /** "name/version", as offers name it. */
  name: string;
  /** Words for the buyer. */
  title: string;
  /** The offer's delivery kind this workflow serves. */
  delivery: DeliveryKind;
  /** Fair exchange of the payment against what the seller gives (false: plain transfers, no third party). */
  fair: boolean;
  sellerGives: SellerGives;
  /** Absent: payment (so definitions certified before registrations existed read as they were). */
  buyerGives?: BuyerGives;
  /** Physical goods: the seller sends a signed delivery note when it ships (off-line delivery). */
  deliveryNote: boolean;
  /** The longest the buyer lets an exchange run before the third party decides (seconds). */
  deadlineSeconds: number;
}

/** The workflows of the seed's examples (§2.2): mail-order retailing (also with documents in the same order), on-line purchase of information, registration with a service provider. */
export const STANDARD_WORKFLOWS: Workflow[] = [
  { name: 'mail-order/1', title: 'Mail order: pay against a signed receipt, goods shipped with a signed delivery note', delivery: 'physical', fair: true, sellerGives: 'receipt', deliveryNote: true, deadlineSeconds: 600 },
  { name: 'information-purchase/1', title: 'Information purchase: pay against the document and its receipt, delivered at once', delivery: 'digital', fair: true, sellerGives: 'goods-and-receipt', deliveryNote: false, deadlineSeconds: 600 },
  { name: 'mail-order-mixed/1', title: 'Mail order with documents: pay against the documents and the receipt at once, goods shipped with a signed delivery note', delivery: 'mixed', fair: true, sellerGives: 'goods-and-receipt', deliveryNote: true, deadlineSeconds: 600 },
  { name: 'registration/1', title: 'Registration with a service provider: your card-signed registration against the provider\u2019s signed customer credential', delivery: 'digital', fair: true, sellerGives: 'credential', buyerGives: 'registration', deliveryNote: false, deadlineSeconds: 600 },
];

const WORKFLOW = 'semper-workflow';

export function workflowPayload(w: Workflow, evaluator: string, issued: number): Uint8Array {
  const m = new Map<number, HostCbor>([
      [1, WORKFLOW],
      [2, w.name],
      [3, w.title],
      [4, w.delivery],
      [5, w.fair],
      [6, w.sellerGives],
      [7, w.deliveryNote],
      [8, w.deadlineSeconds],
      [9, evaluator],
      [10, issued],
  ]);
  if (w.buyerGives && w.buyerGives !== 'payment') m.set(11, w.buyerGives);
  return encodeCanonical(m);
}

/** An evaluator certifies a workflow definition (signs it). */
export function certifyWorkflow(w: Workflow, evaluator: { name: string; privateKey: Uint8Array }, issued: number): Uint8Array {
  return signSign1(workflowPayload(w, evaluator.name, issued), evaluator.privateKey);
}

export interface Evaluator {
  name: string;
  publicKey: Uint8Array;
}

/** The definition's fields without checking who certified it (the seller's own copy; the buyer runs verifyWorkflow). */
export function readWorkflow(signed: Uint8Array): Workflow & { evaluator: string } {
  const { f } = commerce('workflow', () => openSigned(signed, WORKFLOW));
  return commerce('workflow', () => workflowOf(f));
}

/** A certified definition, checked against the evaluators the buyer trusts. UNTRUSTED_WORKFLOW otherwise. */
export function verifyWorkflow(signed: Uint8Array, trusted: readonly Evaluator[]): Workflow & { evaluator: string } {
  const { sign1, f } = commerce('workflow', () => openSigned(signed, WORKFLOW));
  const w = commerce('workflow', () => workflowOf(f));
  const ev = trusted.find((e) => e.name === w.evaluator);
  if (!ev) throw new CommerceError('UNTRUSTED_WORKFLOW', `the workflow ${w.name} is certified by ${w.evaluator}, whom this agent does not trust`);
  try {
    checkSignature(sign1, ev.publicKey, 'workflow');
  } catch (_e) {
    throw new CommerceError('UNTRUSTED_WORKFLOW', `the workflow ${w.name} is not signed by ${ev.name}`);
  }
  return w;
}

function workflowOf(f: Fields): Workflow & { evaluator: string } {
  f.only([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const delivery = f.text(4, 16);
  if (delivery !== 'digital' && delivery !== 'physical' && delivery !== 'mixed') return f.fail(4, 'digital, physical or mixed');
  const gives = f.text(6, 32);
  if (gives !== 'receipt' && gives !== 'goods-and-receipt' && gives !== 'credential') return f.fail(6, 'receipt, goods-and-receipt or credential');
  const buyerGives = f.has(11) ? f.text(11, 32) : 'payment';
  if (f.has(11) && buyerGives !== 'registration') return f.fail(11, 'registration (absent: payment)');
  if ((buyerGives === 'registration') !== (gives === 'credential')) return f.fail(11, 'a registration is answered with a credential, and only a registration is');
  const fair = f.m.get(5);
  const note = f.m.get(7);
  if (typeof fair !== 'boolean') return f.fail(5, 'boolean');
  if (typeof note !== 'boolean') return f.fail(7, 'boolean');
  const deadline = f.uint(8);
  if (deadline < 10 || deadline > 30 * 86400) return f.fail(8, '10 s .. 30 days');
  if (gives === 'goods-and-receipt' && delivery === 'physical') return f.fail(6, 'goods are exchanged on-line only when they are digital');
  if (delivery === 'mixed' && gives !== 'goods-and-receipt') return f.fail(6, 'a mixed delivery gives its documents on-line');
  const w: Workflow & { evaluator: string } = { name: f.text(2, 64), title: f.text(3, 256), delivery, fair, sellerGives: gives, deliveryNote: note, deadlineSeconds: deadline, evaluator: f.text(9, 64) };
  if (buyerGives === 'registration') w.buyerGives = 'registration';
  return w;
}

/** Two definitions say the same (the seller's copy and the one the buyer verified). */
export function sameWorkflow(a: Uint8Array, b: Uint8Array): boolean {
  return sameBytes(a, b);
}
