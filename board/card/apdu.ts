// ISO/IEC 7816-4 §5: command and response APDUs (short and extended length fields) and the
// status words this card uses.

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (Lc bytes); empty when there is no Lc field. */
  data: Uint8Array;
  /** Ne, the maximum response length expected; undefined when there is no Le field. Le=00 → 256 (short) / 65536 (extended). */
  ne?: number;
  /** Whether the length fields were extended (3-byte Lc / 2- or 3-byte Le). */
  extended: boolean;
}

export class ApduError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApduError';
  }
}

/** Parses a command APDU (cases 1, 2S, 3S, 4S, 2E, 3E, 4E of ISO 7816-4 §5.1). */
export function parseCommand(b: Uint8Array): CommandApdu {
  if (b.length < 4) throw new ApduError('APDU shorter than 4 bytes');
  const head = { cla: b[0], ins: b[1], p1: b[2], p2: b[3] };
  const body = b.length - 4;
  if (body === 0) return { ...head, data: new Uint8Array(0), extended: false }; // case 1
  const b0 = b[4];
  if (body === 1) return { ...head, data: new Uint8Array(0), ne: b0 === 0 ? 256 : b0, extended: false }; // case 2S
  if (b0 !== 0) {
    // short Lc
    const lc = b0;
    if (body === 1 + lc) return { ...head, data: b.slice(5, 5 + lc), extended: false }; // 3S
    if (body === 2 + lc) {
      const le = b[5 + lc];
      return { ...head, data: b.slice(5, 5 + lc), ne: le === 0 ? 256 : le, extended: false }; // 4S
    }
    throw new ApduError(`short Lc ${lc} does not match ${body} body bytes`);
  }
  // b0 = 00 and body ≥ 2: extended
  if (body === 3) {
    const le = (b[5] << 8) | b[6];
    return { ...head, data: new Uint8Array(0), ne: le === 0 ? 65536 : le, extended: true }; // 2E
  }
  if (body < 3) throw new ApduError('truncated extended length');
  const lc = (b[5] << 8) | b[6];
  if (lc === 0) throw new ApduError('extended Lc of 0');
  if (body === 3 + lc) return { ...head, data: b.slice(7, 7 + lc), extended: true }; // 3E
  if (body === 5 + lc) {
    const le = (b[7 + lc] << 8) | b[8 + lc];
    return { ...head, data: b.slice(7, 7 + lc), ne: le === 0 ? 65536 : le, extended: true }; // 4E
  }
  throw new ApduError(`extended Lc ${lc} does not match ${body} body bytes`);
}

/** Encodes a command APDU; picks extended lengths when data > 255 bytes or ne > 256 (or when asked). */
export function encodeCommand(c: { cla: number; ins: number; p1: number; p2: number; data?: Uint8Array; ne?: number; extended?: boolean }): Uint8Array {
  const data = c.data ?? new Uint8Array(0);
  if (data.length > 65535) throw new ApduError('data longer than 65535 bytes');
  if (c.ne !== undefined && (c.ne < 1 || c.ne > 65536)) throw new ApduError('Ne out of range 1..65536');
  const ext = c.extended === true || data.length > 255 || (c.ne !== undefined && c.ne > 256);
  const out: number[] = [c.cla & 0xff, c.ins & 0xff, c.p1 & 0xff, c.p2 & 0xff];
  if (data.length > 0) {
    if (ext) out.push(0, data.length >> 8, data.length & 0xff);
    else out.push(data.length);
    for (const x of data) out.push(x);
  }
  if (c.ne !== undefined) {
    if (ext) {
      if (data.length === 0) out.push(0);
      const le = c.ne === 65536 ? 0 : c.ne;
      out.push(le >> 8, le & 0xff);
    } else out.push(c.ne === 256 ? 0 : c.ne);
  }
  return Uint8Array.from(out);
}

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

export function encodeResponse(data: Uint8Array, sw: number): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = (sw >> 8) & 0xff;
  out[data.length + 1] = sw & 0xff;
  return out;
}

export function parseResponse(b: Uint8Array): ResponseApdu {
  if (b.length < 2) throw new ApduError('response shorter than 2 bytes');
  return { data: b.slice(0, b.length - 2), sw: (b[b.length - 2] << 8) | b[b.length - 1] };
}

/** Status words (ISO 7816-4 §5.6 and this applet's proprietary 94xx, see APPLET.md). */
export const SW = {
  OK: 0x9000,
  VERIFICATION_FAILED: 0x6300,
  /** 63Cx: wrong PIN/PUK, x tries left. */
  TRIES_LEFT: 0x63c0,
  MEMORY_FAILURE: 0x6581,
  WRONG_LENGTH: 0x6700,
  SECURITY_NOT_SATISFIED: 0x6982,
  AUTH_BLOCKED: 0x6983,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  WRONG_DATA: 0x6a80,
  FILE_NOT_FOUND: 0x6a82,
  /** Used by this applet for "insufficient funds" (ISO: not enough memory space in the file). */
  INSUFFICIENT_FUNDS: 0x6a84,
  INCORRECT_P1P2: 0x6a86,
  DATA_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  UNKNOWN: 0x6f00,
  CURRENCY_MISMATCH: 0x9401,
  LIMIT_EXCEEDED: 0x9402,
  REPLAYED: 0x9403,
  BAD_ISSUER_SIGNATURE: 0x9404,
  WRONG_CARD: 0x9405,
} as const;

export const triesLeft = (n: number): number => 0x63c0 | (n & 0x0f);

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
export const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/[^0-9a-fA-F]/g, ''), 'hex'));
