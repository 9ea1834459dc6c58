// The device codec (protocol/src/cbor.ts, Espruino-safe) and the host codec
// (shared/src/cbor.ts, on cbor-x) must write identical bytes for every value and
// every message, and read each other's output back to the same value.

import fc from 'fast-check';
import { decode, encode } from '../../protocol/src/cbor';
import { decodeMessage, encodeMessage } from '../../protocol/src/codec';
import { decodeCanonical, encodeCanonical, fromByteString, toByteString, toModel } from '../../shared/src/cbor';
import { decodeHostMessage, encodeHostMessage } from '../../host/src/link/codec';
import { hostValue, message, toDeviceBody } from '../helpers/arbitraries';
import { diagDevice, diagHost } from '../helpers/cbor-diag';

const LIMITS = { maxSize: 1 << 20, maxDepth: 64, maxLength: 1 << 20, maxCount: 1 << 10, maxTag: 255 };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('any profile value: identical bytes from both encoders, and each decodes the other (10,000 values)', () => {
  fc.assert(
    fc.property(hostValue, (v) => {
      const hostBytes = encodeCanonical(v);
      const deviceBytes = encode(toModel(v, toByteString));
      expect(hex(deviceBytes)).toBe(hex(hostBytes));
      // maps come back in canonical key order, so compare decoded forms and round trips
      const onDevice = decode(hostBytes, LIMITS);
      const onHost = decodeCanonical(deviceBytes, LIMITS);
      expect(diagDevice(onDevice)).toBe(diagHost(onHost));
      expect(hex(encode(onDevice))).toBe(hex(hostBytes));
      expect(hex(encodeCanonical(onHost))).toBe(hex(hostBytes));
    }),
    { numRuns: 10000, seed: 8949 },
  );
});

test('every catalogue message: identical bytes from both sides, and each side reads the other (10,000 messages)', () => {
  let counted = 0;
  fc.assert(
    fc.property(message, ([dir, type, id, body]) => {
      const hostBytes = encodeHostMessage(type, id, body, dir);
      const deviceBytes = encodeMessage(type, id, toDeviceBody(body), dir);
      expect(hex(deviceBytes)).toBe(hex(hostBytes));
      const onDevice = decodeMessage(hostBytes, dir);
      expect(onDevice.type).toBe(type);
      expect(onDevice.id).toBe(id);
      expect(onDevice.body).toEqual(toDeviceBody(body));
      const onHost = decodeHostMessage(deviceBytes, dir);
      expect(onHost.body).toEqual(body);
      counted++;
    }),
    { numRuns: 10000, seed: 9052 },
  );
  expect(counted).toBeGreaterThanOrEqual(10000);
});

test('byte-string text round-trips through the device form', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), (s) => {
      expect(fromByteString(toByteString(s))).toBe(s);
    }),
  );
});
