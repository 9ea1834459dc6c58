// HELLO: version negotiation and device information (SPEC.md §5.1).

import { ErrorCode, MsgType, PROTOCOL_VERSION } from '../../../protocol/src/messages';
import { MAX_PAYLOAD } from '../../../protocol/src/frame';
import { HandlerTable, Request } from '../link/host-link';

/** The STM32 unique id from getSerial() ("33003c00-0c513532-39333638") as bytes. */
export function deviceSerial(): Uint8Array {
  const hex = getSerial().replace(/[^0-9a-fA-F]/g, '');
  const n = Math.min(16, Math.floor(hex.length / 2));
  const out = new Uint8Array(n < 4 ? 4 : n);
  for (let i = 0; i < n; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

export function hello(handlers: HandlerTable, cardPresent: () => boolean): (req: Request) => void {
  return (req) => {
    const b = req.msg.body as { minVersion: number; maxVersion: number };
    if (b.minVersion > PROTOCOL_VERSION || b.maxVersion < PROTOCOL_VERSION) {
      req.fail(ErrorCode.VERSION);
      return;
    }
    const caps: number[] = [];
    const keys = Object.keys(handlers);
    for (let i = 0; i < keys.length; i++) caps.push(parseInt(keys[i], 10));
    caps.sort((x, y) => x - y);
    req.reply({
      version: PROTOCOL_VERSION,
      firmware: __FIRMWARE_VERSION__,
      board: process.env.BOARD || 'unknown',
      serial: deviceSerial(),
      capabilities: caps,
      card: cardPresent(),
      maxMessage: MAX_PAYLOAD,
    });
  };
}

export const HELLO = MsgType.HELLO;
