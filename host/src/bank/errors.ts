// The bank's typed errors and their one mapping to HTTP (API.md). Match on `code`.

export type BankErrorCode =
  | 'BAD_REQUEST' // the request is not the format (detail: the field)
  | 'UNAUTHORIZED' // an administrative request without the admin token
  | 'NOT_FOUND' // no such account (or route)
  | 'ACCOUNT_EXISTS' // an account id that is taken
  | 'CURRENCY' // amounts in another currency than the account's
  | 'INSUFFICIENT_FUNDS' // the account to debit holds less than the amount
  | 'BAD_TOKEN' // a payment token that is malformed or does not verify with its card certificate (detail: why)
  | 'BAD_SIGNATURE' // an order or load request not signed by the account's key
  | 'WRONG_PAYEE' // the token or order pays another account than the one it is deposited to
  | 'DOUBLE_SPENDING' // a token whose (card id, counter) was deposited already (detail: the evidence)
  | 'DUPLICATE_ORDER' // a payment order whose id was settled already
  | 'DUPLICATE_REFUND' // a refund id that was refunded already
  | 'CARD_REGISTERED' // a card registered for another account
  | 'BAD_CERTIFICATE' // a card certificate that does not validate (detail: the CertificateError code)
  | 'REFUND_EXCEEDS' // the refunds of a payment would add up to more than it paid (detail: {paid, refunded})
  | 'NO_REFUND_ACCOUNT' // a purse token of a card no account is registered for: nowhere to pay back to
  | 'IDEMPOTENCY_CONFLICT' // a request id used before for a different request
  | 'BUSY' // the database stayed locked; nothing happened, try again with the same request id
  | 'INTERNAL' // anything else; nothing was committed
  | 'UNREACHABLE' // client side only: no answer from the bank (outcome unknown: retry with the same request id)
  | 'BAD_RECEIPT'; // client side only: a receipt or status statement that does not verify with the bank key or says something else than the answer

export const HTTP_STATUS: Readonly<Record<BankErrorCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  ACCOUNT_EXISTS: 409,
  IDEMPOTENCY_CONFLICT: 409,
  DOUBLE_SPENDING: 409,
  DUPLICATE_ORDER: 409,
  DUPLICATE_REFUND: 409,
  CARD_REGISTERED: 409,
  BAD_CERTIFICATE: 422,
  REFUND_EXCEEDS: 422,
  NO_REFUND_ACCOUNT: 422,
  CURRENCY: 422,
  INSUFFICIENT_FUNDS: 422,
  BAD_TOKEN: 422,
  BAD_SIGNATURE: 422,
  WRONG_PAYEE: 422,
  BUSY: 503,
  INTERNAL: 500,
  UNREACHABLE: 502,
  BAD_RECEIPT: 502,
};

/** Detail of DOUBLE_SPENDING: both tokens, so anyone can check the card signed twice (or one token came twice). */
export interface DoubleSpendingEvidence {
  cardId: string;
  counter: number;
  /** The same signed payload as the deposited one (a token presented again), or a different one with the same counter (a cloned or broken card). */
  samePayment: boolean;
  first: { token: string; merchant: string; time: number; entry: number };
  second: { token: string };
}

export type BankErrorDetail = string | DoubleSpendingEvidence | Record<string, unknown>;

export class BankError extends Error {
  override readonly name = 'BankError';
  constructor(
    readonly code: BankErrorCode,
    message: string,
    readonly detail?: BankErrorDetail,
  ) {
    super(message);
  }
}

export function isBankError(e: unknown, code?: BankErrorCode): e is BankError {
  return e instanceof BankError && (code === undefined || e.code === code);
}
