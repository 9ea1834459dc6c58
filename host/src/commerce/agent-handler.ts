// The commerce layer behind the buyer agent's local API (../agent/): a page's purchase request
// names the merchant's offer by its URL; this handler fetches the offer bundle, checks that the
// page asked for what the offer says, and runs the purchase — the device verifies the offer,
// shows the order, the user presses OK and types the PIN — reporting each step to the page.

import { httpChannel } from '../transfer/channel';
import { formatMinorUnits } from '../services/money';
import type { PurchaseHandler, PurchaseProgress } from '../agent/purchases';
import { PurchaseError } from '../agent/purchases';
import { Buyer, PurchaseStep } from './buyer';
import { CommerceError, verifyOffer } from './offer';
import { fetchOfferBundle } from './seller-http';
import { TrustStore } from '../../../shared/src/certificate';

const STEPS: Record<PurchaseStep, [number, string, boolean]> = {
  'offer-checked': [1, 'Offer and merchant checked', false],
  'offer-verified-on-device': [2, 'The device verified the merchant', false],
  exchanging: [3, 'Agreeing the exchange with the merchant', false],
  'waiting-for-user': [4, 'Confirm the order on your device: OK, then your PIN', true],
  done: [5, 'Done', false],
};

export function commercePurchaseHandler(buyer: Buyer, trust: TrustStore): PurchaseHandler {
  return async (origin, request, progress, signal) => {
    const report = (s: PurchaseStep): void => {
      const [step, label, waitingForUser] = STEPS[s];
      const p: PurchaseProgress = { step, steps: 5, label, waitingForUser };
      progress(p);
    };
    let bundle;
    try {
      bundle = await fetchOfferBundle(request.offer, signal);
      // what the page said it would charge must be what the signed offer says (the device then shows that)
      const { offer } = verifyOffer(bundle.offer, bundle.certificate, trust, Math.floor(Date.now() / 1000));
      if (offer.total !== request.amount.amount || offer.currency !== request.amount.currency) {
        throw new CommerceError('MISMATCH', `the page asked for ${formatMinorUnits(request.amount.amount, request.amount.currency)} ${request.amount.currency}, the merchant's signed offer says ${formatMinorUnits(offer.total, offer.currency)} ${offer.currency}`);
      }
    } catch (e) {
      if (e instanceof CommerceError) throw new PurchaseError(e.code === 'NOT_FOUND' ? 'OFFER_UNAVAILABLE' : `OFFER_${e.code}`, e.message);
      throw e;
    }
    let p;
    try {
      p = await buyer.purchase(bundle, httpChannel(bundle.exchangeUrl), { ...(/^https?:\/\//.test(origin) ? { origin } : {}), progress: report });
    } catch (e) {
      if (e instanceof CommerceError) throw new PurchaseError(`COMMERCE_${e.code}`, e.message);
      throw e;
    }
    const o = p.offer.offer;
    const paid = `${formatMinorUnits(o.total, o.currency)} ${o.currency} to ${o.merchant}`;
    const details = { deal: p.deal, exchange: p.outcome.exchangeId, outcome: p.outcome.outcome, workflow: p.workflow.name };
    if (p.userRefused) return { state: 'refused', message: `You did not confirm the order on the device: nothing was paid to ${o.merchant}.`, details };
    switch (p.outcome.outcome) {
      case 'completed':
        return { state: 'completed', message: `Paid ${paid}; ${p.goods.length ? 'the documents and ' : ''}the signed receipt are in your archive.`, details };
      case 'resolved':
        return { state: 'completed', message: `Paid ${paid}; the merchant did not answer, so the third party's signed affidavit stands in for the receipt${p.goods.length ? ' and the documents came from its escrow' : ''}.`, details };
      case 'pending':
        throw new PurchaseError('PENDING', `The payment to ${o.merchant} may have been made; the outcome is final by ${new Date(p.outcome.deadline).toISOString()} (the agent asks the third party). Do not pay again.`);
      default:
        throw new PurchaseError(`EXCHANGE_${p.outcome.outcome.toUpperCase()}`, `The purchase did not go through (${p.outcome.outcome}): ${p.outcome.reason}`);
    }
  };
}
