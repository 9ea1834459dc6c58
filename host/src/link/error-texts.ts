// The words for a device's ERROR. The device sends a code, the offending field and, for PIN
// errors, the tries left — no English (SPEC §5.14): the firmware's Storage has no room for
// sentences a person never reads on the device. The host words them here, once, for logs
// and for the messages its callers show. Host code only: nothing in device/ imports this.

import { ErrorCode } from '../../../protocol/src/messages';

/** What each wire code means, in the words of SPEC §6.1. */
const TEXTS: { readonly [code: number]: string } = {
  [ErrorCode.MALFORMED]: 'the device could not read the request (not a valid message)',
  [ErrorCode.NON_CANONICAL]: 'the device refused the request: its CBOR is not canonical',
  [ErrorCode.TOO_LARGE]: 'the request is too large for the device',
  [ErrorCode.UNKNOWN_TYPE]: 'the device does not know this request type',
  [ErrorCode.SCHEMA]: 'a field of the request does not match its schema',
  [ErrorCode.UNSUPPORTED]: 'not supported by this firmware: see HELLO capabilities',
  [ErrorCode.VERSION]: 'the device speaks no protocol version in common with this host',
  [ErrorCode.BUSY]: 'another operation is running on the device',
  [ErrorCode.DUPLICATE_ID]: 'the request id belongs to the running operation',
  [ErrorCode.CANCELLED]: 'the operation was cancelled (by the host, or the link to the host was lost)',
  [ErrorCode.USER_REFUSED]: 'refused by the user on the device',
  [ErrorCode.USER_TIMEOUT]: 'no answer from the user on the device in time',
  [ErrorCode.NO_CARD]: 'no card in the slot (or it was removed)',
  [ErrorCode.CARD_ERROR]: 'the card did not answer or answered unexpectedly',
  [ErrorCode.PIN_BLOCKED]: 'the card\'s PIN is blocked',
  [ErrorCode.PIN_FAILED]: 'wrong PIN',
  [ErrorCode.VERIFY_FAILED]: 'a certificate, offer or load-instruction signature did not verify',
  [ErrorCode.NOT_VERIFIED]: 'the offer is not verified on this device (VERIFY_OFFER first), or the payee differs from the verified merchant',
  [ErrorCode.UNDISPLAYABLE]: 'the device cannot show this faithfully (a character or a currency it does not know)',
  [ErrorCode.INSUFFICIENT_FUNDS]: 'insufficient funds in the purse',
  [ErrorCode.REPLAYED]: 'the load instruction was already used',
  [ErrorCode.CURRENCY]: 'the currency differs from the purse\'s',
  [ErrorCode.LIMIT]: 'the purse\'s balance limit would be exceeded',
  [ErrorCode.INTERNAL]: 'firmware fault on the device',
};

/**
 * An ERROR in words: the code's meaning, the field or card layer it names (`path`) and the
 * PIN tries left. A device that still words its errors (`sent`: older firmware) is taken at
 * its word.
 */
export function deviceErrorText(code: number, path?: string, triesLeft?: number, sent?: string): string {
  if (sent) return sent;
  let s = TEXTS[code] ?? `device error ${code}`;
  if (triesLeft !== undefined && (code === ErrorCode.PIN_FAILED || code === ErrorCode.PIN_BLOCKED)) s += `: ${triesLeft} ${triesLeft === 1 ? 'try' : 'tries'} left`;
  if (path) s += ` (at ${path})`;
  return s;
}
