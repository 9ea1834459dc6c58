// The exchange layer's typed errors (SEMPER §3.4). Match on `code`, never on the message.

export type ExchangeErrorCode =
  | 'MALFORMED' // a message, agreement or decision that is not the format (detail: the field)
  | 'BAD_SIGNATURE' // signed, but not by the key it must come from
  | 'WRONG_EXCHANGE' // bound to another exchange (another id or agreement hash): a replay
  | 'MISMATCH' // an item that does not match the description agreed for it (detail: why)
  | 'NO_PROTOCOL' // the two items' properties allow no fair-exchange protocol (or the peer knows none)
  | 'REFUSED' // the peer or the third party refused (detail: its code)
  | 'DEADLINE' // the agreement's deadline has passed (a resolve too late, an agreement already stale)
  | 'DECIDED' // the third party has decided this exchange otherwise already (detail: the outcome)
  | 'UNKNOWN_EXCHANGE' // no exchange with that id here
  | 'UNKNOWN_ITEM' // no exchange module for that item type
  | 'CHANNEL'; // the peer or the third party could not be reached; outcome unknown

export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
  constructor(
    readonly code: ExchangeErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

export function isExchangeError(e: unknown, code?: ExchangeErrorCode): e is ExchangeError {
  return e instanceof ExchangeError && (code === undefined || e.code === code);
}
