// Error types of the protocol stack. They are NOT subclasses of Error: on Espruino
// `class X extends Error` loses its message (PROFILE.md), so every layer throws and
// matches plain objects by `code`, never by message text.

/** Why a CBOR item was refused. A closed set: the SPEC lists each one. */
export type CborErrorCode =
  | 'TRUNCATED' // the input ends inside an item
  | 'TRAILING' // bytes after the single top-level item
  | 'NON_CANONICAL' // an argument not in its shortest form (RFC 8949 §4.2.1)
  | 'UNSORTED_KEYS' // map keys not in bytewise order of their encodings
  | 'DUPLICATE_KEY'
  | 'INDEFINITE' // indefinite-length string, array or map
  | 'UNSUPPORTED' // float, simple value other than false/true/null, reserved additional info
  | 'BAD_KEY' // map key neither an integer nor a text string
  | 'OUT_OF_RANGE' // integer or tag number beyond 2^53-1 (tags: beyond the profile's limit)
  | 'INVALID_UTF8'
  | 'TOO_DEEP'
  | 'TOO_LONG' // a string longer than the limit
  | 'TOO_MANY' // an array or map with more entries than the limit
  | 'TOO_LARGE' // the whole input over the limit
  | 'UNENCODABLE'; // the encoder was handed a value outside the profile

export class CborError {
  readonly name: 'CborError';
  constructor(
    readonly code: CborErrorCode,
    readonly message: string,
    /** Byte offset in the input where the problem was found (decoding only). */
    readonly offset: number,
  ) {
    this.name = 'CborError';
  }
}

export function isCborError(e: unknown): e is CborError {
  return e instanceof CborError;
}
