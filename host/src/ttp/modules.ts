// The exchange modules a third party runs with: it must verify what the parties exchange
// exactly as they do (external verifiability), so it uses the same payment instruments'
// checks — card tokens against the CA roots it trusts, account orders against the payer keys
// it knows — and the standard signature, information and package modules. With a bank it
// also confirms that a payment it resolves on really stands there, and it revokes payments
// with refund authorisations in the bank's format.

import { TrustStore } from '../../../shared/src/certificate';
import { AccountInstrument, DevicePurse, PaymentManager, SettlementPort, VerifiedPayment } from '../payment/manager';
import { PaymentReference, PaymentStatus, signRefundCbor } from '../payment/formats';
import { PaymentItem } from '../transfer/items';
import { ExchangeModules, InformationExchangeModule, PaymentExchangeModule, SignatureExchangeModule } from '../exchange/modules';

/** The bank as the third party needs it (bank/client.ts BankClient implements it). */
export interface ThirdPartyBank extends SettlementPort {
  paymentStatus(reference: PaymentReference): Promise<{ status: PaymentStatus }>;
}

export interface StandardModulesOptions {
  /** CA roots that card certificates chain to (purse tokens). */
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
  const payments = new PaymentManager([new DevicePurse({ trust: o.trust }), new AccountInstrument({ payerKey: o.payerKey })]);
  const bank = o.bank;
  const settle = bank
    ? async (item: PaymentItem, v: VerifiedPayment, requestId: string): Promise<void> => {
        const { status } = await bank.paymentStatus(referenceOf(v));
        if (!status.settled) {
          await payments.settle(item, bank, requestId);
          return;
        }
        if (status.payee !== v.payee || status.amount !== v.amount || status.currency !== v.currency) throw new Error('the bank settled this payment for another payee or amount');
      }
    : undefined;
  return ExchangeModules.withPackages([
    new PaymentExchangeModule({ verify: (item, expect) => payments.verify(item, expect), signRefund: signRefundCbor, ...(settle ? { settle } : {}) }),
    new SignatureExchangeModule(),
    new InformationExchangeModule(),
  ]);
}
