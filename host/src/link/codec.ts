// Bytes ⇄ messages on the host: cbor-x (shared/src/cbor) + the protocol's catalogue,
// checked with the same schema code the device runs.

import { CborError } from '../../../protocol/src/errors';
import { cborErrorToMessageError } from '../../../protocol/src/codec';
import { buildEnvelope, checkEnvelope, Direction, LINK_LIMITS, Message } from '../../../protocol/src/messages';
import { cacheSchemas } from '../../../protocol/src/schema';
import { decodeCanonicalModel, encodeCanonical, fromModel, utf8Length } from '../../../shared/src/cbor';

cacheSchemas();

/** Decodes and checks one message (throws MessageError only). Text fields are JS strings. */
export function decodeHostMessage(bytes: Uint8Array, dir: Direction): Message {
  let v;
  try {
    v = decodeCanonicalModel(bytes, LINK_LIMITS);
  } catch (e) {
    if (e instanceof CborError) throw cborErrorToMessageError(e);
    throw e;
  }
  return checkEnvelope(v, dir, utf8Length);
}

/** Encodes one message after checking its body against the catalogue. */
export function encodeHostMessage(type: number, id: number, body: { [name: string]: unknown }, dir: Direction): Uint8Array {
  return encodeCanonical(fromModel(buildEnvelope(type, id, body, dir, utf8Length)));
}
