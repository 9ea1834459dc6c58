// CRC-32 as in ISO-HDLC / IEEE 802.3 / zlib (poly 0x04C11DB7 reflected, init and
// final XOR 0xFFFFFFFF; check value of "123456789" is 0xCBF43926). Espruino has it
// natively as E.CRC32; this table version is for hosts and third-party ports.

let table: Uint32Array | null = null;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/** CRC-32 of `data` as an unsigned 32-bit integer. */
export function crc32(data: Uint8Array): number {
  if (!table) table = makeTable();
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
