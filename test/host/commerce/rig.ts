// What the commerce suites share: the parties' keys under the bank rig's CA, and a merchant that
// vanishes once it was paid (the exchange's responder item went out, its answer never comes).

import { issueCertificate } from '../../../shared/src/certificate';
import { openMessage } from '../../../host/src/exchange/formats';
import { Channel } from '../../../host/src/transfer/channel';
import { ca, key } from '../bank/rig';

/** A merchant (certificate of role merchant from the rig's CA), the evaluator and the third party's key, from seeds. */
export function commerceParties(shop: string, seed: string, serial: number) {
  const merchantKey = key(`${seed} merchant`);
  const merchantCert = issueCertificate({ name: shop, publicKey: merchantKey.publicKey, role: 'merchant', subjectId: Uint8Array.of(7, serial % 256), issuerId: Uint8Array.of(0xca, 1), notBefore: 0, notAfter: 4102444800, serial }, ca.privateKey);
  return { merchantKey, merchantCert, evaluator: { name: 'SEMPER Evaluation Lab', ...key(`${seed} evaluator`) }, ttpKey: key(`${seed} ttp`) };
}

/** The channel to a merchant that takes the buyer's item and then vanishes (before its own item). */
export function vanishesAfterPaid(inner: Channel): Channel {
  return {
    async request(b, signal) {
      const a = await inner.request(b, signal);
      if (openMessage(b).msg.step === 'responderItem') throw new Error('the merchant vanished');
      return a;
    },
  };
}
