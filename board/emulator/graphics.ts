// Espruino's Graphics, the part that does not need font data: off-screen buffers made by
// Graphics.createArrayBuffer (1 bit per pixel, optionally vertical_byte as the SSD1306
// wants it), pixels, lines, rectangles, clearing, colours and 1-bpp images — drawn the way
// Espruino 2v29 draws them (inclusive rectangle corners, clipping to the buffer, the
// buffer's bit layout). Text needs Espruino's own 4x6/6x8/Vector font data, which this
// repository may not copy; see board/README.md.

export interface ArrayBufferOptions {
  /** Each byte holds 8 vertical pixels (SSD1306 pages); the height must be a multiple of 8. */
  vertical_byte?: boolean;
  /**
   * The first pixel of each byte is its most significant bit. Default true since 2v25 —
   * also with vertical_byte, so an SSD1306 (LSB at the top) wants `msb: false`.
   */
  msb?: boolean;
}

type RealmU8 = (n: number) => Uint8Array;

/** A Graphics instance drawing into a 1-bpp buffer. */
export class EmulatedGraphics {
  readonly buffer: ArrayBuffer;
  private readonly bytes: Uint8Array;
  private fg = 1;
  private bg = 0;

  constructor(
    private readonly w: number,
    private readonly h: number,
    private readonly opts: ArrayBufferOptions,
    alloc: RealmU8,
  ) {
    const size = opts.vertical_byte ? w * Math.ceil(h / 8) : Math.ceil((w * h) / 8);
    this.bytes = alloc(size);
    this.buffer = this.bytes.buffer as ArrayBuffer;
  }

  getWidth(): number {
    return this.w;
  }
  getHeight(): number {
    return this.h;
  }
  getBPP(): number {
    return 1;
  }

  /** setColor(c) or setColor(r, g, b) with 0..1 floats: on a 1-bpp buffer any brightness ≥ 0.5 is 1. */
  setColor(r: unknown, g?: unknown, b?: unknown): this {
    this.fg = colour(r, g, b);
    return this;
  }
  setBgColor(r: unknown, g?: unknown, b?: unknown): this {
    this.bg = colour(r, g, b);
    return this;
  }
  getColor(): number {
    return this.fg;
  }
  getBgColor(): number {
    return this.bg;
  }

  /** Byte index and bit mask of a pixel, as lcd_arraybuffer.c computes them for 1 bpp. */
  private at(x: number, y: number): [number, number] {
    const idx = this.opts.vertical_byte ? ((x + (y >> 3) * this.w) << 3) | (y & 7) : x + y * this.w;
    const sub = idx & 7;
    return [idx >> 3, 1 << (this.opts.msb === false ? sub : 7 - sub)];
  }

  setPixel(x: unknown, y: unknown, c?: unknown): this {
    const xi = Math.round(Number(x));
    const yi = Math.round(Number(y));
    if (!(xi >= 0 && yi >= 0 && xi < this.w && yi < this.h)) return this;
    const [i, m] = this.at(xi, yi);
    const v = c === undefined ? this.fg : Number(c) ? 1 : 0;
    if (v) this.bytes[i] |= m;
    else this.bytes[i] &= ~m & 0xff;
    return this;
  }

  getPixel(x: unknown, y: unknown): number {
    const xi = Math.round(Number(x));
    const yi = Math.round(Number(y));
    if (!(xi >= 0 && yi >= 0 && xi < this.w && yi < this.h)) return 0;
    const [i, m] = this.at(xi, yi);
    return this.bytes[i] & m ? 1 : 0;
  }

  /** clear(reset): fills with the background colour; with `true` also resets colours. */
  clear(reset?: unknown): this {
    if (reset === true) {
      this.fg = 1;
      this.bg = 0;
    }
    this.bytes.fill(this.bg ? 0xff : 0);
    return this;
  }

  /** fillRect(x1, y1, x2, y2), corners included, in either order; or fillRect({x, y, w, h}). */
  fillRect(a: unknown, b?: unknown, c?: unknown, d?: unknown, colourValue?: number): this {
    const r = rect(a, b, c, d);
    const v = colourValue ?? this.fg;
    const x1 = Math.max(0, Math.min(r.x1, r.x2));
    const x2 = Math.min(this.w - 1, Math.max(r.x1, r.x2));
    const y1 = Math.max(0, Math.min(r.y1, r.y2));
    const y2 = Math.min(this.h - 1, Math.max(r.y1, r.y2));
    for (let y = y1; y <= y2; y++) for (let x = x1; x <= x2; x++) this.setPixel(x, y, v);
    return this;
  }

  clearRect(a: unknown, b?: unknown, c?: unknown, d?: unknown): this {
    return this.fillRect(a, b, c, d, this.bg);
  }

  drawRect(a: unknown, b?: unknown, c?: unknown, d?: unknown): this {
    const r = rect(a, b, c, d);
    this.drawLine(r.x1, r.y1, r.x2, r.y1);
    this.drawLine(r.x2, r.y1, r.x2, r.y2);
    this.drawLine(r.x2, r.y2, r.x1, r.y2);
    this.drawLine(r.x1, r.y2, r.x1, r.y1);
    return this;
  }

  /**
   * A line with both ends, stepped as Espruino 2v29 does (graphics.c): along the longer
   * axis, the other coordinate in 1/256 fixed point, starting half a pixel in and rounded
   * down — which is not always Bresenham's choice of pixels.
   */
  drawLine(x1: unknown, y1: unknown, x2: unknown, y2: unknown): this {
    let ax = Math.round(Number(x1));
    let ay = Math.round(Number(y1));
    let bx = Math.round(Number(x2));
    let by = Math.round(Number(y2));
    let xl = Math.abs(bx - ax);
    let yl = Math.abs(by - ay);
    if (xl > yl) {
      if (ax > bx) [ax, ay, bx, by] = [bx, by, ax, ay];
      else if (xl === 0) xl = 1;
      let pos = ay * 256 + 128;
      const step = Math.trunc(((by - ay) * 256) / xl);
      for (let x = ax; x <= bx; x++, pos += step) this.setPixel(x, pos >> 8);
    } else {
      if (ay > by) [ax, ay, bx, by] = [bx, by, ax, ay];
      else if (yl === 0) yl = 1;
      let pos = ax * 256 + 128;
      const step = Math.trunc(((bx - ax) * 256) / yl);
      for (let y = ay; y <= by; y++, pos += step) this.setPixel(pos >> 8, y);
    }
    return this;
  }

  /**
   * drawImage of a 1-bpp image object {width, height, bpp: 1, buffer, transparent?}: bits
   * row-major, MSB first (Espruino's image format); set bits in the foreground colour,
   * clear bits in the background colour unless `transparent` is 0.
   */
  drawImage(image: unknown, x: unknown, y: unknown): this {
    const img = image as { width: number; height: number; bpp?: number; buffer: ArrayBuffer | string; transparent?: number };
    if (!img || typeof img !== 'object') throw new Error('Expecting first argument to be an object or a String');
    if ((img.bpp ?? 1) !== 1) throw new Error('Only 1 bpp images are emulated');
    const data = typeof img.buffer === 'string' ? Uint8Array.from(img.buffer, (ch) => ch.charCodeAt(0) & 0xff) : new Uint8Array(img.buffer);
    const x0 = Math.round(Number(x));
    const y0 = Math.round(Number(y));
    for (let j = 0; j < img.height; j++)
      for (let i = 0; i < img.width; i++) {
        const n = j * img.width + i;
        const on = (data[n >> 3] >> (7 - (n & 7))) & 1;
        if (on) this.setPixel(x0 + i, y0 + j, this.fg);
        else if (img.transparent !== 0) this.setPixel(x0 + i, y0 + j, this.bg);
      }
    return this;
  }
}

function colour(r: unknown, g?: unknown, b?: unknown): number {
  if (g === undefined) return Number(r) ? 1 : 0;
  return (Number(r) + Number(g) + Number(b)) / 3 >= 0.5 ? 1 : 0;
}

function rect(a: unknown, b?: unknown, c?: unknown, d?: unknown): { x1: number; y1: number; x2: number; y2: number } {
  if (a && typeof a === 'object') {
    const o = a as { x: number; y: number; w?: number; h?: number; x2?: number; y2?: number };
    return { x1: o.x, y1: o.y, x2: o.x2 ?? o.x + (o.w ?? 1) - 1, y2: o.y2 ?? o.y + (o.h ?? 1) - 1 };
  }
  return { x1: Math.round(Number(a)), y1: Math.round(Number(b)), x2: Math.round(Number(c)), y2: Math.round(Number(d)) };
}

/**
 * The `Graphics` global: `Graphics.createArrayBuffer(width, height, bpp, options)` for
 * 1 bpp (what the reference board's display needs).
 */
export function graphicsGlobal(alloc: RealmU8): Record<string, unknown> {
  return {
    Graphics: {
      createArrayBuffer(width: unknown, height: unknown, bpp: unknown, options?: unknown): EmulatedGraphics {
        const w = Number(width);
        const h = Number(height);
        if (!(w > 0 && h > 0 && w <= 1024 && h <= 1024)) throw new Error('Invalid Size');
        if (Number(bpp) !== 1) throw new Error('Only 1 bpp array buffers are emulated (the board has a monochrome display)');
        const o = (options as ArrayBufferOptions) ?? {};
        if (o.vertical_byte && h % 8) throw new Error('height must be a multiple of 8 when using vertical_byte');
        return new EmulatedGraphics(w, h, o, alloc);
      },
    },
  };
}
