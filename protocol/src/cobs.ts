// Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999). A frame on the line is
// COBS(frame) followed by 0x00, so 0x00 never occurs inside a frame and a receiver
// finds the next frame boundary after any amount of noise. Overhead: one byte per
// 254 bytes of data, plus the delimiter.

/** Largest encoded size of `n` bytes, without the delimiter. */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

/** Encodes `data`; the result contains no 0x00 byte and no delimiter. */
export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(data.length));
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
    } else {
      out[o++] = data[i];
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        codeAt = o++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/**
 * Decodes one COBS block (without its delimiter). Returns null if the block is not
 * valid COBS (a zero byte inside, or a code pointing past the end).
 */
export function cobsDecode(enc: Uint8Array): Uint8Array | null {
  const out = new Uint8Array(enc.length);
  let o = 0;
  let i = 0;
  while (i < enc.length) {
    const code = enc[i];
    if (code === 0 || i + code > enc.length) return null;
    for (let k = 1; k < code; k++) {
      const b = enc[i + k];
      if (b === 0) return null;
      out[o++] = b;
    }
    i += code;
    if (code !== 0xff && i < enc.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
