// The one error shape of the card stack: a plain object (never `class extends Error`, whose
// message Espruino loses), matched by `code` — the link protocol's ErrorCode.

import { ErrorCode } from '../../../protocol/src/messages';

export interface CardError {
  /** protocol/src/messages.ts ErrorCode. */
  code: number;
  /** The card's status word, when the card answered. */
  sw?: number;
  /** PIN/PUK tries left (63Cx). */
  triesLeft?: number;
  /** Which layer failed and how (e.g. 'T1:RESYNCHRONISED', 'ATR:TCK', 'MUTE', 'REMOVED'). */
  reason?: string;
}

export type CardCallback<T> = (err: CardError | null, value?: T) => void;

// No English text: the host words an ERROR from its code, and `reason` travels as its path.
export function cardError(code: number, reason?: string): CardError {
  const e: CardError = { code: code };
  if (reason !== undefined) e.reason = reason;
  return e;
}

export const noCard = (): CardError => cardError(ErrorCode.NO_CARD, 'REMOVED');

export function hex4(sw: number): string {
  let s = sw.toString(16).toUpperCase();
  while (s.length < 4) s = '0' + s;
  return s;
}

/**
 * A status word other than 9000 as an error (APPLET.md § Status words → ErrorCode):
 * 63Cx PIN_FAILED (triesLeft x; 63C0 — now blocked — is PIN_BLOCKED), 6983 PIN_BLOCKED,
 * 6982 NOT_VERIFIED, 6A84 INSUFFICIENT_FUNDS, 9401 CURRENCY, 9402 LIMIT, 9403 REPLAYED,
 * 9404 / 9405 / 6300 VERIFY_FAILED, anything else CARD_ERROR.
 */
export function swError(sw: number): CardError {
  let code: number = ErrorCode.CARD_ERROR;
  let tries = -1;
  if ((sw & 0xfff0) === 0x63c0) {
    tries = sw & 0x0f;
    code = tries === 0 ? ErrorCode.PIN_BLOCKED : ErrorCode.PIN_FAILED;
  } else if (sw === 0x6983) {
    code = ErrorCode.PIN_BLOCKED;
  } else if (sw === 0x6982) {
    code = ErrorCode.NOT_VERIFIED;
  } else if (sw === 0x6a84) {
    code = ErrorCode.INSUFFICIENT_FUNDS;
  } else if (sw === 0x9401) {
    code = ErrorCode.CURRENCY;
  } else if (sw === 0x9402) {
    code = ErrorCode.LIMIT;
  } else if (sw === 0x9403) {
    code = ErrorCode.REPLAYED;
  } else if (sw === 0x9404 || sw === 0x9405 || sw === 0x6300) {
    code = ErrorCode.VERIFY_FAILED;
  }
  const e: CardError = { code: code, sw: sw, reason: 'SW:' + hex4(sw) };
  if (tries >= 0) e.triesLeft = tries;
  return e;
}
