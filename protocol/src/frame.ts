// Link frames: header, payload and CRC-32, COBS-stuffed between 0x00 delimiters.
//
//   frame   = ctl seq ack payload crc32le
//   ctl     = (LINK_VERSION << 4) | kind
//   on line = 0x00 COBS(frame) 0x00   (the leading 0x00 isolates noise from the frame)
//
// See SPEC.md §2 for the byte-level definition.

import { copyBytes } from './cbor';
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from './cobs';
import { COUNTED } from './counting';

export const LINK_VERSION = 1;

/** Frame kinds (low nibble of ctl). */
export const FrameKind = {
  DATA: 0,
  ACK: 1,
  SYNC: 2,
  SYNC_ACK: 3,
  /** Unsequenced, unacknowledged: advisory device events (STATUS). May be lost or repeated. */
  EVENT: 4,
} as const;
export type FrameKindValue = (typeof FrameKind)[keyof typeof FrameKind];

/** Largest payload of one DATA frame (one whole message: messages are never fragmented). */
export const MAX_PAYLOAD = 2048;
export const FRAME_HEADER = 3;
export const FRAME_TRAILER = 4;
/** Largest frame on the line between delimiters. */
export const MAX_ENCODED_FRAME = cobsMaxEncodedLength(FRAME_HEADER + MAX_PAYLOAD + FRAME_TRAILER);

export interface Frame {
  kind: FrameKindValue;
  seq: number;
  ack: number;
  payload: Uint8Array;
}

export type Crc32 = (data: Uint8Array) => number;

/**
 * Builds the bytes that go on the line for `f`, delimiters included. `lead` (default
 * true) starts the frame with its own 0x00 so noise on an idle line cannot stick to it;
 * a frame that directly follows another on a busy line may share that frame's trailing
 * delimiter instead.
 */
export function encodeFrame(f: Frame, crc32: Crc32, lead?: boolean): Uint8Array {
  const n = FRAME_HEADER + f.payload.length;
  const raw = new Uint8Array(n + FRAME_TRAILER);
  raw[0] = (LINK_VERSION << 4) | f.kind;
  raw[1] = f.seq & 0xff;
  raw[2] = f.ack & 0xff;
  raw.set(f.payload, FRAME_HEADER);
  const c = crc32(raw.subarray(0, n)) >>> 0;
  raw[n] = c & 0xff;
  raw[n + 1] = (c >>> 8) & 0xff;
  raw[n + 2] = (c >>> 16) & 0xff;
  raw[n + 3] = (c >>> 24) & 0xff;
  const enc = cobsEncode(raw);
  const first = lead === false ? 0 : 1;
  const out = new Uint8Array(enc.length + 1 + first);
  out.set(enc, first);
  return out;
}

/** Counters a receiver keeps: every discarded byte run is accounted for. */
export interface FrameStats {
  frames: number;
  crcErrors: number;
  malformed: number;
  oversize: number;
  badVersion: number;
}

/**
 * Splits the incoming byte stream into verified frames. Feed it chunks of any size
 * (the line splits frames arbitrarily); it calls `onFrame` for each frame whose CRC,
 * version and kind are good and silently counts the rest. Memory is bounded by
 * MAX_ENCODED_FRAME whatever arrives.
 */
export class FrameReader {
  private buf: Uint8Array;
  private len: number;
  private discarding: boolean;
  stats!: FrameStats;
  constructor(
    private readonly crc32: Crc32,
    private readonly onFrame: (f: Frame) => void,
  ) {
    this.buf = new Uint8Array(MAX_ENCODED_FRAME);
    this.len = 0;
    this.discarding = false;
    if (COUNTED) this.stats = { frames: 0, crcErrors: 0, malformed: 0, oversize: 0, badVersion: 0 };
  }

  push(chunk: Uint8Array): void {
    // a receiver that throws must not cost the frames after it in this chunk: keep
    // going and rethrow the first error at the end
    let failed = false;
    let error: unknown = null;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === 0) {
        const n = this.len;
        this.len = 0;
        if (this.discarding) this.discarding = false;
        else if (n > 0) {
          try {
            this.finish(n);
          } catch (e) {
            if (!failed) error = e;
            failed = true;
          }
        }
      } else if (!this.discarding) {
        if (this.len === this.buf.length) {
          if (COUNTED) this.stats.oversize++;
          this.discarding = true;
          this.len = 0;
        } else this.buf[this.len++] = b;
      }
    }
    if (failed) throw error;
  }

  private finish(len: number): void {
    const raw = cobsDecode(this.buf.subarray(0, len));
    if (!raw || raw.length < FRAME_HEADER + FRAME_TRAILER) {
      if (COUNTED) this.stats.malformed++;
      return;
    }
    const n = raw.length - FRAME_TRAILER;
    const got = (raw[n] | (raw[n + 1] << 8) | (raw[n + 2] << 16) | (raw[n + 3] << 24)) >>> 0;
    if ((this.crc32(raw.subarray(0, n)) >>> 0) !== got) {
      if (COUNTED) this.stats.crcErrors++;
      return;
    }
    if (n - FRAME_HEADER > MAX_PAYLOAD) {
      if (COUNTED) this.stats.oversize++;
      return;
    }
    const kind = raw[0] & 0x0f;
    if (raw[0] >> 4 !== LINK_VERSION || kind > FrameKind.EVENT) {
      if (COUNTED) this.stats.badVersion++;
      return;
    }
    if (COUNTED) this.stats.frames++;
    // copy: the payload must outlive the receive buffer
    this.onFrame({ kind: kind as FrameKindValue, seq: raw[1], ack: raw[2], payload: copyBytes(raw, FRAME_HEADER, n) });
  }
}
