// A harness around the firmware's statement review as the user meets it: review() from
// device/src/ops/statement.ts lays the statement out, a ScrollView in a Tinguin draws it into
// the emulator's Graphics (the same 128×64 1-bpp buffer the display gets), and DOWN is
// pressed until the whole statement has been on screen. Every frame the display would get
// is returned, so a test can compare what two statements look like, pixel for pixel.

import { EmulatedGraphics, graphicsGlobal } from '../../../board/emulator/graphics';
import { runHarness } from './bundle';

export const SCREENS_ENTRY = `
import { review, refused } from '../../../device/src/ops/statement';
import { OfferBook } from '../../../device/src/ops/offers';
import { ScrollView, Tinguin } from '../../../device/src/ui/tinguin';
import { language, setLanguage, t } from '../../../device/src/ui/lang';
declare const __harness: (api: unknown) => void;
declare const Graphics: { createArrayBuffer(w: number, h: number, bpp: number, o: unknown): { buffer: ArrayBuffer } };

const g = Graphics.createArrayBuffer(128, 64, 1, { vertical_byte: true, msb: false });
let frames: ArrayBuffer[] = [];
const ui = new Tinguin({ g: g as unknown as EspruinoGraphics, flip: () => { frames.push(g.buffer.slice(0)); } });
const offers = new OfferBook();

function render(bytes: Uint8Array, lang: string): { code?: number; path?: string; frames?: ArrayBuffer[] } {
  if (lang !== language()) setLanguage(lang);
  const r = review(bytes, [1, 2, 3, 4], offers);
  if (refused(r)) return { code: r.code, path: r.path };
  ui.setStatus(true, true);
  ui.setStep(1, 1, t('step.check'));
  // the review prompt of ops/prompts.ts: its footer and help
  const v = new ScrollView(r.rows, () => {}, (sv) => (sv.seenAll ? t('foot.confirm') : t('foot.more')), t('help.review'));
  frames = [];
  ui.show(v);
  for (let n = 0; !v.seenAll && n < 400; n++) ui.key('DOWN');
  return { frames: frames };
}

__harness({ render: render, remember: (d: Uint8Array, name: string) => offers.remember(d, name) });
`;

/**
 * The emulator's Graphics with its drawing primitives memoised — nothing else changes: each
 * fillRect, drawLine and drawString is drawn ONCE by EmulatedGraphics (on a scratch buffer),
 * the pixels it set are kept, and where the same call recurs — also lower down the panel, as
 * a scrolled row is — they are set again with EmulatedGraphics.setPixel. Only calls wholly on
 * the panel are memoised (clipping stays EmulatedGraphics' own). The frames are bit for bit
 * what EmulatedGraphics draws (checked against it in differential.test.ts), much faster: the
 * glyph walk costs ~25 ms a frame.
 */
class MemoGraphics {
  private readonly bytes: Uint8Array;
  private readonly scratch: EmulatedGraphics;
  private fg = 1;
  private font: [unknown, unknown, unknown, unknown] | null = null;
  private fontKey = '';
  private readonly fonts = new Map<string, number>();
  private readonly memo = new Map<string, Int32Array>();
  private readonly glyphs = new Map<string, { px: Int32Array; w: number }[]>();
  readonly buffer: ArrayBuffer;

  constructor(
    private readonly real: EmulatedGraphics,
    make: () => EmulatedGraphics,
  ) {
    this.buffer = real.buffer;
    this.bytes = new Uint8Array(real.buffer);
    this.scratch = make();
  }
  getWidth(): number {
    return this.real.getWidth();
  }
  getHeight(): number {
    return this.real.getHeight();
  }
  clear(reset?: unknown): this {
    this.real.clear(reset);
    if (reset === true) this.fg = 1;
    return this;
  }
  setColor(c: unknown): this {
    this.real.setColor(c);
    this.fg = this.real.getColor();
    return this;
  }
  setFontCustom(bitmap: unknown, first: unknown, widths: unknown, height: unknown): this {
    this.real.setFontCustom(bitmap, first, widths, height);
    const f = this.font;
    this.font = [bitmap, first, widths, height];
    if (f && f[0] === bitmap && f[1] === first && f[2] === widths && f[3] === height) return this;
    const id = `${String(bitmap)}|${String(widths)}`;
    let n = this.fonts.get(id);
    if (n === undefined) this.fonts.set(id, (n = this.fonts.size));
    this.fontKey = `${n}|${String(first)}|${String(height)}`;
    return this;
  }
  drawLine(x1: unknown, y1: unknown, x2: unknown, y2: unknown): this {
    const key = `L${String(x1)},${String(y1)},${String(x2)},${String(y2)},${this.fg}`;
    let bits = this.memo.get(key);
    if (!bits) {
      bits = this.effect(this.fg, (g) => g.drawLine(x1, y1, x2, y2));
      this.memo.set(key, bits);
    }
    this.apply(bits, this.fg, 0);
    return this;
  }
  clearRect(a: unknown, b: unknown, c: unknown, d: unknown): this {
    return this.rect(a, b, c, d, this.real.getBgColor());
  }
  fillRect(a: unknown, b: unknown, c: unknown, d: unknown): this {
    return this.rect(a, b, c, d, this.fg);
  }
  private rect(a: unknown, b: unknown, c: unknown, d: unknown, v: number): this {
    const [y1, y2] = [Number(b), Number(d)];
    // a rectangle wholly on the panel is the same pixels moved down: memoised at y = 0
    if (!Number.isInteger(y1) || !Number.isInteger(y2) || y1 < 0 || y2 < y1 || y2 >= this.real.getHeight()) {
      this.real.setColor(v);
      this.real.fillRect(a, b, c, d);
      this.real.setColor(this.fg);
      return this;
    }
    const key = `R${String(a)},${String(c)},${y2 - y1},${v}`;
    let px = this.memo.get(key);
    if (!px) {
      px = this.effect(v, (g) => g.fillRect(a, 0, c, y2 - y1));
      this.memo.set(key, px);
    }
    this.apply(px, v, y1);
    return this;
  }
  drawString(str: unknown, x: unknown, y: unknown, solid?: unknown): this {
    const yi = Number(y);
    const xi = Number(x);
    const text = String(str);
    const f = this.font;
    const h = f ? (Number(f[3]) & 255) * Math.max(1, (Number(f[3]) >> 8) & 255) : 0;
    // only plain one-line text wholly on the panel is memoised (anything else: the emulator)
    if (solid || !f || !Number.isInteger(yi) || !Number.isInteger(xi) || xi < 0 || yi < 0 || yi + h > this.real.getHeight() || text.indexOf('\n') >= 0) {
      this.real.drawString(str, x, y, solid);
      return this;
    }
    // glyph by glyph, as drawString walks them: each advances by its width, and a glyph is
    // skipped whole unless it starts left of the last column
    const maxX = this.real.getWidth() - 1;
    let cx = xi;
    const tk = `${this.fontKey}|${this.fg}`;
    let table = this.glyphs.get(tk);
    if (!table) this.glyphs.set(tk, (table = []));
    for (let i = 0; i < text.length && cx < maxX; i++) {
      const code = text.charCodeAt(i);
      let g = table[code];
      if (!g) {
        const ch = text.charAt(i);
        g = {
          px: this.effect(this.fg, (sg) => {
            sg.setFontCustom(f[0], f[1], f[2], f[3]);
            sg.drawString(ch, 0, 0);
          }),
          w: this.real.stringWidth(ch),
        };
        table[code] = g;
      }
      this.apply(g.px, this.fg, yi, cx);
      cx += g.w;
    }
    return this;
  }
  /** The pixels `draw` sets to colour `v` (drawn at the top of a scratch buffer), as [x, y] pairs. */
  private effect(v: number, draw: (g: EmulatedGraphics) => void): Int32Array {
    const g = this.scratch;
    const bytes = new Uint8Array(g.buffer);
    bytes.fill(v ? 0 : 0xff);
    g.setColor(v);
    draw(g);
    // the SSD1306 layout (vertical_byte, LSB at the top): byte x + page·w holds rows page·8…+7
    const w = g.getWidth();
    const out: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const m = v ? bytes[i] : ~bytes[i] & 0xff;
      if (m) for (let k = 0; k < 8; k++) if (m & (1 << k)) out.push(i % w, Math.floor(i / w) * 8 + k);
    }
    return Int32Array.from(out);
  }
  /** Sets the pixels to `v`, `dy` rows lower, in the same layout. */
  private apply(px: Int32Array, v: number, dy: number, dx = 0): void {
    const b = this.bytes;
    const w = this.real.getWidth();
    for (let i = 0; i < px.length; i += 2) {
      const y = px[i + 1] + dy;
      const x = px[i] + dx;
      if (x >= w) continue; // clipped at the right edge, as setPixel clips
      const at = x + (y >> 3) * w;
      if (v) b[at] |= 1 << (y & 7);
      else b[at] &= ~(1 << (y & 7)) & 0xff;
    }
  }
}

/** graphicsGlobal with every buffer memoised (MemoGraphics). */
function memoGraphicsGlobal(alloc: (n: number) => Uint8Array): Record<string, unknown> {
  const G = graphicsGlobal(alloc).Graphics as { createArrayBuffer(w: number, h: number, bpp: number, o?: unknown): EmulatedGraphics };
  return {
    Graphics: {
      createArrayBuffer: (w: number, h: number, bpp: number, o?: { vertical_byte?: boolean; msb?: boolean }) => {
        // memoised for the display's layout only; anything else is the plain emulator
        if (!o || o.vertical_byte !== true || o.msb !== false) return G.createArrayBuffer(w, h, bpp, o);
        return new MemoGraphics(G.createArrayBuffer(w, h, bpp, o), () => G.createArrayBuffer(w, h, bpp, o));
      },
    },
  };
}

export interface Rendered {
  code?: number;
  path?: string;
  /** The frames the display got, hex, in order; absent when the device refused the statement. */
  frames?: string[];
}

/** Boots the harness; `render` lays out and draws a statement (bytes) in a language. */
export function screenRenderer(memo = true): { render(bytes: Uint8Array, lang?: string): Rendered; remember(digest: Uint8Array, merchant: string): void; stop(): void } {
  const { sandbox, api } = runHarness('screens-entry.ts', SCREENS_ENTRY, {
    globals: (sb) => (memo ? memoGraphicsGlobal : graphicsGlobal)((n) => sb.inContext(new Uint8Array(n))),
  });
  return {
    render(bytes, lang = 'en') {
      const r = api.render(sandbox.inContext(bytes), lang) as { code?: number; path?: string; frames?: ArrayBuffer[] };
      if (!r.frames) return { code: r.code, path: r.path };
      const frames: string[] = [];
      for (let i = 0; i < r.frames.length; i++) frames.push(Buffer.from(r.frames[i]).toString('hex'));
      return { frames };
    },
    remember(digest, merchant) {
      api.remember(sandbox.inContext(digest), Buffer.from(merchant, 'utf8').toString('latin1'));
    },
    stop: () => sandbox.stop(),
  };
}
