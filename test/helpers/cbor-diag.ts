// RFC 8949 §8 diagnostic notation for both value models, so decoded values can be
// compared with the RFC's examples and with each other.

import { CborMap, CborTag, CborValue } from '../../protocol/src/cbor';
import { HostCbor, Tag, fromByteString } from '../../shared/src/cbor';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Diagnostic notation of a device-side value (text is a UTF-8 byte string). */
export function diagDevice(v: CborValue): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(fromByteString(v));
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return `h'${hex(v)}'`;
  if (Array.isArray(v)) return `[${v.map(diagDevice).join(', ')}]`;
  if (v instanceof CborMap) return `{${v.keys.map((k, i) => `${diagDevice(k)}: ${diagDevice(v.values[i])}`).join(', ')}}`;
  if (v instanceof CborTag) return `${v.tag}(${diagDevice(v.value)})`;
  throw new Error(`not a device CBOR value: ${String(v)}`);
}

/** Diagnostic notation of a host-side value. */
export function diagHost(v: HostCbor): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return `h'${hex(v)}'`;
  if (Array.isArray(v)) return `[${v.map(diagHost).join(', ')}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${diagHost(k)}: ${diagHost(x)}`).join(', ')}}`;
  if (v instanceof Tag) return `${v.tag}(${diagHost(v.value as HostCbor)})`;
  throw new Error(`not a host CBOR value: ${String(v)}`);
}
