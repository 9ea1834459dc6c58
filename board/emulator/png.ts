// PNG encoding of a 1-bit image (the panel) with node:zlib, and a small decoder used by
// the tests to check round trips (chunk CRCs verified, IDAT inflated and unfiltered).

import { crc32, deflateSync, inflateSync } from 'node:zlib';

export type Rgb = [number, number, number];

/** A monochrome image: `pixels[y * width + x]`, non-zero = lit. */
export interface MonoImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

export interface PngOptions {
  /** Each pixel becomes scale×scale pixels (integer ≥ 1). Default 1. */
  scale?: number;
  /** Unlit margin around the image, in output pixels. Default 0. */
  border?: number;
  /**
   * Colours of lit and unlit pixels: written as a palette image (colour type 3, 1 bit).
   * Without it the PNG is greyscale (colour type 0), lit = white.
   */
  palette?: { on: Rgb; off: Rgb };
  /** Greyscale bit depth, 1 (default) or 8. Ignored with a palette. */
  bitDepth?: 1 | 8;
}

/** White-blue lit pixels on black, like common SSD1306 modules. */
export const OLED_PALETTE: { on: Rgb; off: Rgb } = { on: [0xbf, 0xe6, 0xff], off: [0x00, 0x00, 0x00] };

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const body = Buffer.concat([head.subarray(4), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0, 0);
  return Buffer.concat([head.subarray(0, 4), body, crc]);
}

/** Encodes the image as a PNG file. */
export function encodePng(img: MonoImage, opts: PngOptions = {}): Buffer {
  const scale = opts.scale ?? 1;
  const border = opts.border ?? 0;
  if (!Number.isInteger(scale) || scale < 1) throw new Error('scale must be a positive integer');
  if (!Number.isInteger(border) || border < 0) throw new Error('border must be a non-negative integer');
  if (img.pixels.length < img.width * img.height) throw new Error('pixels shorter than width × height');
  const w = img.width * scale + 2 * border;
  const h = img.height * scale + 2 * border;
  const depth = opts.palette ? 1 : (opts.bitDepth ?? 1);
  const rowBytes = depth === 1 ? Math.ceil(w / 8) : w;
  const raw = new Uint8Array((rowBytes + 1) * h); // filter byte 0 (None) on every row
  for (let y = 0; y < h; y++) {
    const sy = Math.floor((y - border) / scale);
    if (y < border || sy >= img.height) continue;
    const row = (rowBytes + 1) * y + 1;
    for (let x = border; x < w - border; x++) {
      const sx = Math.floor((x - border) / scale);
      if (!img.pixels[sy * img.width + sx]) continue;
      if (depth === 1) raw[row + (x >> 3)] |= 0x80 >> (x & 7);
      else raw[row + x] = 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = depth;
  ihdr[9] = opts.palette ? 3 : 0;
  // compression 0, filter 0, interlace 0
  const parts = [SIGNATURE, chunk('IHDR', ihdr)];
  if (opts.palette) parts.push(chunk('PLTE', Uint8Array.from([...opts.palette.off, ...opts.palette.on])));
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

export interface DecodedPng {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  palette?: Rgb[];
  /** One sample per pixel (grey level or palette index), row-major. */
  samples: Uint8Array;
  /** Chunk types in file order. */
  chunks: string[];
}

/**
 * Decodes greyscale (type 0) and palette (type 3) PNGs without interlacing — what
 * encodePng writes. Throws on a bad signature or a chunk whose CRC does not match.
 */
export function decodePng(file: Uint8Array): DecodedPng {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let off = 8;
  const chunks: string[] = [];
  const idat: Buffer[] = [];
  let ihdr: Buffer | null = null;
  let palette: Rgb[] | undefined;
  while (off < buf.length) {
    if (off + 12 > buf.length) throw new Error('truncated chunk');
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (off + 12 + len > buf.length) throw new Error('truncated chunk ' + type);
    const data = buf.subarray(off + 8, off + 8 + len);
    const crc = buf.readUInt32BE(off + 8 + len);
    if ((crc32(buf.subarray(off + 4, off + 8 + len)) >>> 0) !== crc) throw new Error('bad CRC in chunk ' + type);
    chunks.push(type);
    if (type === 'IHDR') ihdr = data;
    else if (type === 'PLTE') {
      palette = [];
      for (let i = 0; i + 2 < data.length; i += 3) palette.push([data[i], data[i + 1], data[i + 2]]);
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
    if (type === 'IEND') break;
  }
  if (!ihdr) throw new Error('no IHDR');
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const bitDepth = ihdr[8];
  const colorType = ihdr[9];
  if (colorType !== 0 && colorType !== 3) throw new Error('unsupported colour type ' + colorType);
  if (![1, 2, 4, 8].includes(bitDepth)) throw new Error('unsupported bit depth ' + bitDepth);
  if (ihdr[12] !== 0) throw new Error('interlaced PNGs are not supported');
  const raw = inflateSync(Buffer.concat(idat));
  const rowBytes = Math.ceil((width * bitDepth) / 8);
  const bpp = Math.max(1, bitDepth >> 3);
  if (raw.length < (rowBytes + 1) * height) throw new Error('IDAT too short');
  const samples = new Uint8Array(width * height);
  let prev = new Uint8Array(rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = raw[(rowBytes + 1) * y];
    const line = Uint8Array.from(raw.subarray((rowBytes + 1) * y + 1, (rowBytes + 1) * (y + 1)));
    for (let i = 0; i < rowBytes; i++) {
      const a = i >= bpp ? line[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      let add: number;
      switch (filter) {
        case 0:
          add = 0;
          break;
        case 1:
          add = a;
          break;
        case 2:
          add = b;
          break;
        case 3:
          add = (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error('bad filter type ' + filter);
      }
      line[i] = (line[i] + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      if (bitDepth === 8) samples[y * width + x] = line[x];
      else {
        const bit = x * bitDepth;
        const shift = 8 - bitDepth - (bit & 7);
        samples[y * width + x] = (line[bit >> 3] >> shift) & ((1 << bitDepth) - 1);
      }
    }
    prev = line;
  }
  return { width, height, bitDepth, colorType, palette, samples, chunks };
}
