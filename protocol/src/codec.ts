// Bytes ⇄ messages on the device side: canonical CBOR (./cbor) + catalogue (./messages).
// Every refusal is a MessageError carrying the wire error code to answer with.

import { CborValue, decode, encode } from './cbor';
import { CborError } from './errors';
import { WORDED } from './wording';
import { buildEnvelope, checkEnvelope, Direction, ErrorCode, LINK_LIMITS, Message, MessageError } from './messages';

/** Maps a CBOR refusal to the wire error code (SPEC.md §6). */
export function cborErrorToMessageError(e: CborError): MessageError {
  let code: MessageError['code'] = ErrorCode.MALFORMED;
  if (e.code === 'TOO_LARGE') code = ErrorCode.TOO_LARGE;
  else if (e.code === 'NON_CANONICAL' || e.code === 'UNSORTED_KEYS' || e.code === 'DUPLICATE_KEY' || e.code === 'INDEFINITE') code = ErrorCode.NON_CANONICAL;
  return { code: code, message: WORDED ? e.code + ' at byte ' + e.offset + ': ' + e.message : '' };
}

/** Decodes and checks one message. Throws MessageError only. */
export function decodeMessage(bytes: Uint8Array, dir: Direction): Message {
  let v: CborValue;
  try {
    v = decode(bytes, LINK_LIMITS);
  } catch (e) {
    if (e instanceof CborError) throw cborErrorToMessageError(e);
    throw e;
  }
  return checkEnvelope(v, dir);
}

/** Encodes one message after checking its body against the catalogue. */
export function encodeMessage(type: number, id: number, body: { [name: string]: unknown }, dir: Direction): Uint8Array {
  return encode(buildEnvelope(type, id, body, dir));
}

/** Best effort: the id of a message that failed checks, so the ERROR can name it (0 if unknown). */
export function peekId(bytes: Uint8Array): number {
  // [type, id, ...]: 0x83, then a type of 1-2 bytes, then the id head
  if (bytes.length < 3 || bytes[0] !== 0x83) return 0;
  let i = 1;
  if (bytes[i] === 0x18) i += 2;
  else if (bytes[i] < 0x18) i += 1;
  else return 0;
  const h = bytes[i];
  if (h < 0x18) return h;
  if (h === 0x18 && i + 1 < bytes.length) return bytes[i + 1];
  if (h === 0x19 && i + 2 < bytes.length) return (bytes[i + 1] << 8) | bytes[i + 2];
  if (h === 0x1a && i + 4 < bytes.length) return ((bytes[i + 1] << 24) >>> 0) + ((bytes[i + 2] << 16) | (bytes[i + 3] << 8) | bytes[i + 4]);
  return 0;
}
