// Entry of the standalone protocol bundle, dist/device/protocol.js: the device-side stack
// as one global object, SemperProtocol, for tests that exercise it exactly as built and
// for third-party ports. Deliberately not `export *` + esbuild's globalName: the
// __toCommonJS helper that would generate builds getters in a `for (let … of …)` loop,
// and on Espruino 2v29 loop-head `let` bindings are shared by every iteration, so every
// getter returned the last export (measured on the interpreter).

import { bytesToByteString, CborMap, CborTag, copyBytes, decode, encode, isUtf8ByteString } from './cbor';
import { CborError } from './errors';
import { crc32 } from './crc32';
import { cobsDecode, cobsEncode } from './cobs';
import { encodeFrame, FrameKind, FrameReader, MAX_ENCODED_FRAME, MAX_PAYLOAD } from './frame';
import { Link } from './link';
import { decodeBody, encodeBody, parseSchema } from './schema';
import { ErrorCode, LINK_LIMITS, MsgType, NESTED_LIMITS, REQUEST_SCHEMA, RESPONSE_SCHEMA, STATEMENT_SCHEMA } from './messages';
import { decodeMessage, encodeMessage, peekId } from './codec';

declare let SemperProtocol: unknown;

// assigning the declared global is the point of this file
// eslint-disable-next-line prefer-const, @typescript-eslint/no-unused-vars
SemperProtocol = {
  CborError: CborError,
  CborMap: CborMap,
  CborTag: CborTag,
  bytesToByteString: bytesToByteString,
  cobsDecode: cobsDecode,
  cobsEncode: cobsEncode,
  copyBytes: copyBytes,
  crc32: crc32,
  decode: decode,
  decodeBody: decodeBody,
  decodeMessage: decodeMessage,
  encode: encode,
  encodeBody: encodeBody,
  encodeFrame: encodeFrame,
  encodeMessage: encodeMessage,
  ErrorCode: ErrorCode,
  FrameKind: FrameKind,
  FrameReader: FrameReader,
  isUtf8ByteString: isUtf8ByteString,
  Link: Link,
  LINK_LIMITS: LINK_LIMITS,
  MAX_ENCODED_FRAME: MAX_ENCODED_FRAME,
  MAX_PAYLOAD: MAX_PAYLOAD,
  MsgType: MsgType,
  NESTED_LIMITS: NESTED_LIMITS,
  parseSchema: parseSchema,
  peekId: peekId,
  REQUEST_SCHEMA: REQUEST_SCHEMA,
  RESPONSE_SCHEMA: RESPONSE_SCHEMA,
  STATEMENT_SCHEMA: STATEMENT_SCHEMA,
};
