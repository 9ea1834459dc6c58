// The message catalogue (SPEC.md §5). Every message is a canonical CBOR array
//   [type, id, body]
// type: a MsgType; id: the request id (0 for unsolicited device events); body: a map
// with small integer keys described by the schema strings below. The host sends
// requests; the device answers each with one response of the same type and id, or an
// ERROR with that id, and may send STATUS events at any time. Codes are never reused:
// retired numbers stay listed as retired.

import { CborLimits, CborMap, CborValue } from './cbor';
import { decodeBody, encodeBody, SchemaError, TextLength } from './schema';
import { WORDED } from './wording';

/** Protocol versions this implementation speaks (HELLO negotiates one). */
export const PROTOCOL_VERSION = 1;

export const MsgType = {
  HELLO: 1,
  PING: 2,
  CONFIRM: 3,
  SIGN: 4,
  VERIFY_OFFER: 5,
  PURSE_BALANCE: 6,
  PURSE_DEBIT: 7,
  PURSE_LOAD: 8,
  READ_LOG: 9,
  CHANGE_PIN: 10,
  CANCEL: 11,
  STORE_CERT: 12,
  STATUS: 20,
  ERROR: 21,
} as const;
export type MsgTypeValue = (typeof MsgType)[keyof typeof MsgType];

/** Wire error codes (ERROR.code). A closed set; see SPEC.md §6 for meaning and handling. */
export const ErrorCode = {
  MALFORMED: 1,
  NON_CANONICAL: 2,
  TOO_LARGE: 3,
  UNKNOWN_TYPE: 4,
  SCHEMA: 5,
  UNSUPPORTED: 6,
  VERSION: 7,
  BUSY: 8,
  DUPLICATE_ID: 9,
  CANCELLED: 10,
  USER_REFUSED: 11,
  USER_TIMEOUT: 12,
  NO_CARD: 13,
  CARD_ERROR: 14,
  PIN_BLOCKED: 15,
  PIN_FAILED: 16,
  VERIFY_FAILED: 17,
  NOT_VERIFIED: 18,
  UNDISPLAYABLE: 19,
  INSUFFICIENT_FUNDS: 20,
  REPLAYED: 21,
  CURRENCY: 22,
  LIMIT: 23,
  INTERNAL: 24,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Device states reported in STATUS.state. */
export const DeviceState = {
  IDLE: 0,
  BUSY: 1,
  AWAITING_USER: 2,
  AWAITING_PIN: 3,
  CARD: 4,
} as const;

/** Kinds of purse log entries (log-entry element 1). */
export const LogKind = {
  DEBIT: 1,
  LOAD: 2,
} as const;

/** Statement kinds (statement field 1). */
export const StatementKind = {
  PAYMENT: 1,
  DOCUMENT: 2,
  PAIRING: 3,
  LOAD: 4,
} as const;

const TIMEOUT = '?2 timeout u 10 600';
const STATEMENT = '1 statement y 1 1536';

/** Request bodies, by type. */
export const REQUEST_SCHEMA: { [type: number]: string } = {
  1: '1 minVersion u 1 255,2 maxVersion u 1 255,?3 agent t 0 64',
  2: '1 data y 0 1024',
  3: STATEMENT + ',' + TIMEOUT,
  4: STATEMENT + ',' + TIMEOUT + ',?3 newKey b',
  5: '1 certificate y 1 600,2 offer y 1 1400',
  6: '',
  7: STATEMENT + ',' + TIMEOUT,
  8: '1 instruction y 1 512,' + TIMEOUT,
  9: '?1 max u 1 20',
  10: '?1 timeout u 10 600',
  11: '1 target u 1 4294967295',
  12: '1 certificate y 1 600',
};

/** Response bodies, by type (STATUS and ERROR are device-originated). */
export const RESPONSE_SCHEMA: { [type: number]: string } = {
  1: '1 version u 1 255,2 firmware t 1 32,3 board t 1 32,4 serial y 4 16,5 capabilities U 0 32,6 card b,7 maxMessage u 256 65535',
  2: '1 data y 0 1024',
  3: '',
  4: '1 protected y 1 64,2 signature y 64 64,3 kid y 1 32,?4 key y 65 65,?5 card y 1 16',
  5: '1 merchant t 1 64,2 offerDigest y 32 32,?3 validUntil u 0 max',
  6: '1 balance m',
  7: '1 token y 1 512',
  8: '1 balance m',
  9: '1 entries L 0 20',
  10: '',
  11: '1 cancelled b',
  12: '',
  20: '1 state u 0 4,2 card b,?3 step u 1 15,?4 steps u 1 15,?5 label t 0 32',
  21: '1 code u 1 255,?2 message t 0 96,?3 path t 0 32,?4 triesLeft u 0 15',
};

/**
 * The statement shown on the device and signed (SIGN), confirmed (CONFIRM) or paid
 * (PURSE_DEBIT): a canonical CBOR map carried as a byte string (SPEC.md §5.4).
 */
export const STATEMENT_SCHEMA =
  '1 kind u 1 4,2 title t 1 64,?3 amount m,?4 payee t 1 64,?5 offer y 32 32,?6 reference t 1 40,' +
  '?7 text t 0 512,?8 deliverBy u 0 max,?9 refundUntil u 0 max,?10 origin t 1 96,?11 code t 1 12';

/** Limits for link messages (SPEC.md §4.3). */
export const LINK_LIMITS: CborLimits = { maxSize: 2048, maxDepth: 4, maxLength: 2048, maxCount: 64, maxTag: 255 };
/** Limits for statements, certificates, offers and tokens nested in byte strings. */
export const NESTED_LIMITS: CborLimits = { maxSize: 1536, maxDepth: 6, maxLength: 1024, maxCount: 32, maxTag: 255 };

/** A decoded, schema-checked message. */
export interface Message {
  type: number;
  id: number;
  body: { [name: string]: unknown };
}

/** Why a message was refused, as the wire error code it maps to. */
export interface MessageError {
  code: ErrorCodeValue;
  message: string;
  path?: string;
}

/** Which direction a message travels: requests go host → device. */
export type Direction = 'request' | 'response';

function schemaFor(type: number, dir: Direction): string | undefined {
  return dir === 'request' ? REQUEST_SCHEMA[type] : RESPONSE_SCHEMA[type];
}

/**
 * Checks a decoded CBOR envelope and its body. Throws a MessageError (never anything
 * else) whose code is what an ERROR reply should carry.
 */
export function checkEnvelope(v: CborValue, dir: Direction, textLength?: TextLength): Message {
  if (!Array.isArray(v) || v.length !== 3) throw { code: ErrorCode.MALFORMED, message: WORDED ? 'a message is [type, id, body]' : '' } as MessageError;
  const type = v[0];
  const id = v[1];
  if (typeof type !== 'number' || type < 0 || type > 255 || type !== Math.floor(type)) throw { code: ErrorCode.MALFORMED, message: WORDED ? 'type must be 0..255' : '', path: 'type' } as MessageError;
  if (typeof id !== 'number' || id < 0 || id > 4294967295 || id !== Math.floor(id)) throw { code: ErrorCode.MALFORMED, message: WORDED ? 'id must be 0..2^32-1' : '', path: 'id' } as MessageError;
  const schema = schemaFor(type, dir);
  if (schema === undefined) throw { code: ErrorCode.UNKNOWN_TYPE, message: WORDED ? 'unknown ' + dir + ' type ' + type : '' } as MessageError;
  if (dir === 'request' && id === 0) throw { code: ErrorCode.MALFORMED, message: WORDED ? 'request id 0 is reserved' : '', path: 'id' } as MessageError;
  try {
    return { type: type, id: id, body: decodeBody(v[2], schema, 'body', textLength) };
  } catch (e) {
    if (e instanceof SchemaError) throw { code: ErrorCode.SCHEMA, message: e.message, path: e.path } as MessageError;
    throw e;
  }
}

/** Builds the envelope for a message; the body is checked against its schema. */
export function buildEnvelope(type: number, id: number, body: { [name: string]: unknown }, dir: Direction, textLength?: TextLength): CborValue[] {
  const schema = schemaFor(type, dir);
  if (schema === undefined) throw { code: ErrorCode.UNKNOWN_TYPE, message: WORDED ? 'unknown ' + dir + ' type ' + type : '' } as MessageError;
  let m: CborMap;
  try {
    m = encodeBody(body, schema, 'body', textLength);
  } catch (e) {
    if (e instanceof SchemaError) throw { code: ErrorCode.SCHEMA, message: e.message, path: e.path } as MessageError;
    throw e;
  }
  return [type, id, m];
}

/** The name under which `table` holds `value`, or `fallback` + value. */
function nameIn(table: { [name: string]: number }, value: number, fallback: string): string {
  const names = Object.keys(table);
  for (let i = 0; i < names.length; i++) if (table[names[i]] === value) return names[i];
  return fallback + value;
}

/** Name of a message type, for logs and traces. */
export function msgTypeName(type: number): string {
  return nameIn(MsgType, type, 'TYPE_');
}

/** Name of an error code, for logs and traces. */
export function errorCodeName(code: number): string {
  return nameIn(ErrorCode, code, 'ERROR_');
}
