// The purse's formats that more than one party handles: the card's payment token and the
// issuer's load instruction (board/card/APPLET.md). The bank issues it, the card verifies it, tests
// and the emulated card's tools make it — all with this one encoder.

import { encodeCanonical, HostCbor, HostCborMap } from './cbor';
import { signSign1 } from './cose';

/** The payload of a card-signed payment token (APPLET.md § Payment token). */
export interface PaymentToken {
  cardId: Uint8Array;
  counter: number;
  payee: string;
  amount: number;
  currency: string;
  txDigest: Uint8Array;
  time: number;
}

export interface LoadInstruction {
  cardId: Uint8Array;
  loadCounter: number;
  amount: number;
  currency: string;
  issuerName: string;
  time?: number;
}

/** COSE_Sign1 by the issuer over {1: card id, 2: load counter, 3: [amount, currency], 4: issuer name, ? 5: time}. */
export function signLoadInstruction(l: LoadInstruction, issuerPrivateKey: Uint8Array): Uint8Array {
  const m: HostCborMap = new Map<number | string, HostCbor>([
    [1, l.cardId],
    [2, l.loadCounter],
    [3, [l.amount, l.currency]],
    [4, l.issuerName],
  ]);
  if (l.time !== undefined) m.set(5, l.time);
  return signSign1(encodeCanonical(m), issuerPrivateKey);
}
