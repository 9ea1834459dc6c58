// Espruino's Graphics as the firmware uses it: off-screen buffers made by
// Graphics.createArrayBuffer (1 bit per pixel, optionally vertical_byte as the SSD1306
// wants it), pixels, lines, rectangles, clearing, colours, 1-bpp images and text in custom
// bitmap fonts (setFontCustom) — drawn the way Espruino 2v29 draws them (inclusive rectangle
// corners, clipping to the buffer, the buffer's bit layout, drawString's glyph walk).
// Espruino's built-in 4x6/6x8/Vector fonts are Espruino's data, which this repository may
// not copy: the firmware brings its own font (device/font/), and setFont() of a built-in
// font fails here with an error that says so; see board/README.md.

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

/** A font given to setFontCustom: the strings exactly as the firmware passed them. */
export interface CustomFont {
  bitmap: string;
  first: number;
  widths: string | number;
  height: number;
  scale: number;
}

/** An "int" argument as Espruino converts it: numbers truncated, anything else 0. */
function toInt(v: unknown): number {
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

/** A Graphics instance drawing into a 1-bpp buffer. */
export class EmulatedGraphics {
  readonly buffer: ArrayBuffer;
  private readonly bytes: Uint8Array;
  private fg = 1;
  private bg = 0;
  private font: CustomFont | null = null;
  private alignX = 3;
  private alignY = 3;
  /** Told of every font the firmware installs, so the screen can be read back as text. */
  fontListener?: (font: CustomFont) => void;

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
   * setFontCustom(bitmap, firstChar, widths, height) as in 2v29: `bitmap` column-first,
   * MSB-first, 1 bpp; `widths` a string (one width per character from firstChar) or one
   * number; height bits 8–15 are the scale. Only 1-bpp fonts are emulated (the panel is
   * monochrome), so bits 16–23 other than 0/1 fail here.
   */
  setFontCustom(bitmap: unknown, firstChar: unknown, widths: unknown, height: unknown): this {
    if (typeof bitmap !== 'string') throw new Error('Font bitmap must be a String');
    const first = toInt(firstChar);
    if (first < 0 || first > 255) throw new Error('First character out of range');
    if (typeof widths !== 'string' && !(typeof widths === 'number' && Number.isInteger(widths))) throw new Error('Font width must be a String or an integer');
    const h = toInt(height);
    const bpp = h >> 16;
    if (bpp > 1) throw new Error(`Only 1-bpp custom fonts are emulated (asked for ${bpp} bpp)`);
    const font: CustomFont = { bitmap, first, widths, height: h & 255, scale: Math.max(1, (h >> 8) & 255) };
    this.font = font;
    this.fontListener?.(font);
    return this;
  }

  /**
   * Espruino's built-in fonts ("4x6", "6x8", "Vector…") are its own data, which the emulator
   * does not have; the firmware must use setFontCustom with its own font.
   */
  setFont(name: unknown): this {
    throw new Error(`Graphics.setFont(${JSON.stringify(name)}): Espruino's built-in fonts are not emulated — draw text with the firmware's own font (Graphics.setFontCustom, device/font/)`);
  }

  /** setFontAlign(x, y, rotation): -1 left/top, 0 centre, 1 right/bottom; rotation 0 only. */
  setFontAlign(x: unknown, y?: unknown, r?: unknown): this {
    const rot = Math.min(3, Math.max(0, toInt(r)));
    if (rot !== 0) throw new Error('Rotated text is not emulated (setFontAlign rotation must be 0)');
    // Stored as Espruino does, in an unsigned 2-bit field: -1 → 3 (left/top), 0 centre, 1 right/bottom
    this.alignX = Math.min(1, Math.max(-1, toInt(x))) & 3;
    this.alignY = Math.min(1, Math.max(-1, toInt(y))) & 3;
    return this;
  }

  getFontHeight(): number {
    return this.font ? this.font.height * this.font.scale : 0;
  }

  /** Width of a character in pixels: 0 for characters the font lacks (and for codes ≥ 256). */
  private charWidth(f: CustomFont, ch: number): number {
    if (ch >= 256) return 0;
    if (typeof f.widths === 'number') return f.scale * f.widths;
    if (ch < f.first) return 0;
    const i = ch - f.first;
    // past the end of the widths string 2v29's UTF-8 iterator yields -1, read as width 255
    // (drawString's plain iterator yields 0 there, so such a character takes no room when drawn)
    return f.scale * (i < f.widths.length ? f.widths.charCodeAt(i) & 255 : 255);
  }

  /** Widest line and total height (a line per newline), as _jswrap_graphics_stringMetrics. */
  stringMetrics(str: unknown): { width: number; height: number; unrenderableChars: boolean; imageCount: number; maxImageHeight: number } {
    const s = String(str);
    const lh = this.getFontHeight();
    let width = 0;
    let max = 0;
    let height = lh;
    let unrenderable = false;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      if (ch === 10) {
        if (width > max) max = width;
        width = 0;
        height += lh;
      } else if (ch !== 0) {
        const w = this.font ? this.charWidth(this.font, ch) : 0;
        width += w;
        if (w === 0) unrenderable = true;
      }
    }
    return { width: Math.max(width, max), height, unrenderableChars: unrenderable, imageCount: 0, maxImageHeight: 0 };
  }

  stringWidth(str: unknown): number {
    return this.stringMetrics(str).width;
  }

  /** Width of the line that starts at `from` (up to the next newline). */
  private lineWidth(s: string, from: number): number {
    const end = s.indexOf('\n', from);
    return this.stringWidth(s.slice(from, end < 0 ? s.length : end));
  }

  /**
   * drawString(str, x, y, solid) as 2v29's jswrap_graphics_drawString does it for a 1-bpp
   * custom font: alignment, newlines back to x, glyphs walked column by column (ink in the
   * foreground colour, paper only when `solid`), and its clip test — a glyph is skipped
   * whole unless x > -width and x < the last column (so nothing starts in column 127).
   */
  drawString(str: unknown, x: unknown, y: unknown, solid?: unknown): this {
    const f = this.font;
    const s = String(str);
    let cx = toInt(x);
    let cy = toInt(y);
    const startX = cx;
    if (!f) return this; // Espruino would use its 4x6 font, which is not emulated
    const fh = this.getFontHeight();
    if (this.alignX < 2) cx = startX - Math.trunc((this.lineWidth(s, 0) * (this.alignX + 1)) / 2);
    if (this.alignY < 2) cy -= Math.trunc((this.stringMetrics(s).height * (this.alignY + 1)) / 2);
    const maxX = this.w - 1;
    const maxY = this.h - 1;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      if (ch === 10) {
        cx = startX;
        if (this.alignX < 2) cx = startX - Math.trunc((this.lineWidth(s, i + 1) * (this.alignX + 1)) / 2);
        cy += fh;
        continue;
      }
      if (ch === 0 || ch >= 256) continue; // inline images are not emulated; no glyphs above 255
      let width = 0;
      let offset = 0;
      if (typeof f.widths === 'string') {
        if (ch >= f.first) {
          for (let k = 0; k < ch - f.first && k < f.widths.length; k++) offset += f.widths.charCodeAt(k) & 255;
          const k = ch - f.first;
          width = k < f.widths.length ? f.widths.charCodeAt(k) & 255 : 0;
        }
      } else {
        width = f.widths;
        offset = width * (ch - f.first);
      }
      if (ch >= f.first && cx > -width * f.scale && cx < maxX && cy > -fh && cy <= maxY) {
        let bit = offset * f.height;
        for (let gx = 0; gx < width; gx++)
          for (let gy = 0; gy < f.height; gy++, bit++) {
            const byte = bit >> 3 < f.bitmap.length ? f.bitmap.charCodeAt(bit >> 3) & 255 : 0;
            const on = (byte >> (7 - (bit & 7))) & 1;
            if (on || solid) {
              const px = cx + gx * f.scale;
              const py = cy + gy * f.scale;
              this.fillRect(px, py, px + f.scale - 1, py + f.scale - 1, on ? this.fg : this.bg);
            }
          }
      }
      cx += width * f.scale;
    }
    return this;
  }

  /** wrapString has subtle rules in 2v29; the firmware wraps text itself (device/src/ui). */
  wrapString(): never {
    throw new Error('Graphics.wrapString is not emulated: wrap text in the firmware, where the rules are tested');
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
export function graphicsGlobal(alloc: RealmU8, onFont?: (font: CustomFont) => void): Record<string, unknown> {
  return {
    Graphics: {
      createArrayBuffer(width: unknown, height: unknown, bpp: unknown, options?: unknown): EmulatedGraphics {
        const w = Number(width);
        const h = Number(height);
        if (!(w > 0 && h > 0 && w <= 1024 && h <= 1024)) throw new Error('Invalid Size');
        if (Number(bpp) !== 1) throw new Error('Only 1 bpp array buffers are emulated (the board has a monochrome display)');
        const o = (options as ArrayBufferOptions) ?? {};
        if (o.vertical_byte && h % 8) throw new Error('height must be a multiple of 8 when using vertical_byte');
        const g = new EmulatedGraphics(w, h, o, alloc);
        if (onFont) g.fontListener = onFont;
        return g;
      },
    },
  };
}
