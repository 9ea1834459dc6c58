// The exchange modules a third party runs with: it must verify what the parties exchange
// exactly as they do (external verifiability), so it uses the same payment instruments'
// checks — card tokens against the CA roots it trusts, account orders against the payer keys
// it knows — and the standard signature and information modules.

import { TrustStore } from '../../../shared/src/certificate';
import { AccountInstrument, DevicePurse, PaymentManager } from '../payment/manager';
import { ExchangeModules, InformationExchangeModule, PaymentExchangeModule, SignatureExchangeModule } from '../exchange/modules';

export interface StandardModulesOptions {
  /** CA roots that card certificates chain to (purse tokens). */
  trust?: TrustStore;
  /** Payers' registered keys by account id (account orders), when known. */
  payerKey?: (account: string) => Uint8Array | undefined;
}

export function standardModules(o: StandardModulesOptions = {}): ExchangeModules {
  const payments = new PaymentManager([new DevicePurse({ trust: o.trust }), new AccountInstrument({ payerKey: o.payerKey })]);
  return ExchangeModules.withPackages([new PaymentExchangeModule({ verify: (item, expect) => payments.verify(item, expect) }), new SignatureExchangeModule(), new InformationExchangeModule()]);
}
