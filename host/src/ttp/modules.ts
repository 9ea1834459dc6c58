// The exchange modules a third party runs with: it must verify what the parties exchange
// exactly as they do (external verifiability), so it uses the same payment instruments'
// checks — card tokens and card-signed account orders against the CA roots it trusts, account
// orders against the payer keys it knows — and the standard signature, information and package modules. With a bank it
// also confirms that a payment it resolves on really stands there (the bank's signed payment
// status), has the bank check the signature of an account order whose payer's key it does not
// know or of a card-signed order (whether the card is the one registered for the payer account
// only the bank knows), and it revokes payments with refund authorisations in the bank's format.
// Without a bank it does not resolve on an account order it cannot check.

import { TrustStore } from '../../../shared/src/certificate';
import { AccountCardInstrument, AccountInstrument, DevicePurse, PaymentManager, SettlementPort, VerifiedPayment } from '../payment/manager';
import { PaymentReference, PaymentStatus, signRefundCbor } from '../payment/formats';
import { PaymentItem } from '../transfer/items';
import { ExchangeError } from '../exchange/errors';
import { ExchangeModules, InformationExchangeModule, PaymentExchangeModule, SignatureExchangeModule } from '../exchange/modules';

/** The bank as the third party needs it (bank/client.ts BankClient implements it). */
export interface ThirdPartyBank extends SettlementPort {
  paymentStatus(reference: PaymentReference): Promise<{ status: PaymentStatus }>;
}

export interface StandardModulesOptions {
  /** CA roots that card certificates chain to (purse tokens, card-signed account orders). */
  trust?: TrustStore;
  /** Payers' registered keys by account id (account orders), when known. */
  payerKey?: (account: string) => Uint8Array | undefined;
  /** The bank: a payment resolved on must stand there (settled now, on the payee's behalf, if the payee never did). */
  bank?: ThirdPartyBank;
}

function referenceOf(v: VerifiedPayment): PaymentReference {
  return v.token ? { cardId: v.token.cardId, counter: v.token.counter } : { orderId: v.orderId ?? '' };
}

export function standardModules(o: StandardModulesOptions = {}): ExchangeModules {
  const payments = new PaymentManager([new DevicePurse({ trust: o.trust }), new AccountInstrument({ payerKey: o.payerKey }), new AccountCardInstrument({ trust: o.trust })]);
  const bank = o.bank;
  // An account order's signature is checked locally only with the payer's key (AccountInstrument);
  // a card token always is (against the CA roots); a card-signed order's card is checked locally,
  // but not that it is the card registered for the payer account.
  const unchecked = (v: VerifiedPayment): boolean => v.token === undefined && (v.instrument === 'account-card/1' || !(v.payer !== undefined && o.payerKey?.(v.payer)));
  const settle = bank
    ? async (item: PaymentItem, v: VerifiedPayment, requestId: string): Promise<void> => {
        const { status } = await bank.paymentStatus(referenceOf(v));
        if (!status.settled) {
          // the bank checks the signature (the payer's registered key, the card's certificate) as it settles
          await payments.settle(item, bank, requestId);
          return;
        }
        if (status.payee !== v.payee || status.amount !== v.amount || status.currency !== v.currency || (v.payer !== undefined && status.payer !== v.payer)) {
          throw new Error('the bank settled this payment for another payer, payee or amount');
        }
        if (unchecked(v)) await bankChecksOrder(payments, bank, item, requestId);
      }
    : async (_item: PaymentItem, v: VerifiedPayment): Promise<void> => {
        if (unchecked(v)) throw new ExchangeError('REFUSED', v.instrument === 'account-card/1' ? `this third party cannot check that the card is the one registered for payer ${v.payer ?? '?'} (no bank): it does not resolve on it` : `this third party can check neither the order's signature (no key for payer ${v.payer ?? '?'}) nor the bank's records (no bank): it does not resolve on it`, 'payerKey');
      };
  return ExchangeModules.withPackages([
    new PaymentExchangeModule({ verify: (item, expect) => payments.verify(item, expect), signRefund: signRefundCbor, settle }),
    new SignatureExchangeModule(),
    new InformationExchangeModule(),
  ]);
}

/**
 * A settled account order whose signature this third party could not check (it knows no key for
 * the payer): it is presented to the bank, which checks the signature against the payer's
 * registered key before it finds the order id settled (bank/API.md, order checks). DUPLICATE_ORDER
 * is the answer wanted — this very order is signed by the payer; BAD_SIGNATURE (a forgery that
 * reuses a settled order's id, payee and amount) or anything else refuses the resolve.
 */
async function bankChecksOrder(payments: PaymentManager, bank: ThirdPartyBank, item: PaymentItem, requestId: string): Promise<void> {
  try {
    await payments.settle(item, bank, `${requestId}-signature`);
  } catch (e) {
    if ((e as { detail?: unknown }).detail !== 'DUPLICATE_ORDER') throw e;
  }
}
