// Reads the panel back as text, from the pixels, with the fonts the firmware installed
// (Graphics.setFontCustom): what the user sees, not what the firmware meant to draw — an
// overdrawn or clipped line reads as it looks. Tests assert on screens with it.
//
// How: each glyph of each font (at each scale it was used with) is a run of pixel columns
// including its blank spacing column. At every row y and column x the column of pixels is
// looked up among the glyphs' first inked columns, and a candidate glyph is kept when its
// whole cell matches exactly (ink and paper). Candidates are accepted greedily by how much
// ink they explain, and each lit pixel can be explained once, so text shifted by a row does
// not read twice. Accepted glyphs on the same baseline in the same font make a line; gaps of
// at least a space's width become spaces. Light-on-dark text (inverse bars) is read from the
// negative image.

import type { CustomFont } from './graphics';
import type { MonoImage } from './png';

/** One line of text found on the panel. */
export interface ScreenLine {
  text: string;
  /** Left edge of the first glyph and top of the line, in pixels. */
  x: number;
  y: number;
  /** Index into the fonts given to the reader, and the scale the text was drawn at. */
  font: number;
  scale: number;
  /** Light text on a lit background (e.g. a title bar). */
  inverse: boolean;
}

interface Glyph {
  code: number;
  /** Pixel columns of the cell (bit y = row y), width × scale of them. */
  cols: number[];
  /** Leading blank columns before the first inked one. */
  lead: number;
  ink: number;
  /** All ink in one row or one column ('_', '-', '.', '|'): such a glyph alone is not text — edges of filled areas look like it. */
  weak: boolean;
}

interface Face {
  font: number;
  scale: number;
  height: number;
  spaceWidth: number;
  byFirstInk: Map<number, Glyph[]>;
}

/** The glyphs of a 1-bpp custom font as pixel columns (scaled), as drawString would draw them. */
function faceOf(f: CustomFont, index: number, scale: number): Face {
  const byFirstInk = new Map<number, Glyph[]>();
  const count = typeof f.widths === 'number' ? Math.max(0, Math.floor((f.bitmap.length * 8) / Math.max(1, f.widths * f.height))) : f.widths.length;
  let bit = 0;
  let spaceWidth = 0;
  for (let i = 0; i < count; i++) {
    const code = f.first + i;
    const w = typeof f.widths === 'number' ? f.widths : f.widths.charCodeAt(i) & 255;
    const cols: number[] = [];
    let ink = 0;
    for (let x = 0; x < w; x++) {
      let col = 0;
      for (let y = 0; y < f.height; y++, bit++) {
        const byte = bit >> 3 < f.bitmap.length ? f.bitmap.charCodeAt(bit >> 3) & 255 : 0;
        if ((byte >> (7 - (bit & 7))) & 1) {
          for (let s = 0; s < scale; s++) col |= 1 << (y * scale + s);
          ink += scale * scale;
        }
      }
      for (let s = 0; s < scale; s++) cols.push(col);
    }
    if (code === 32) spaceWidth = w * scale;
    if (code > 255 || w === 0) continue;
    const lead = cols.findIndex((c) => c !== 0);
    if (lead < 0) continue; // blank glyphs (space) are read from the gaps
    const key = cols[lead];
    const list = byFirstInk.get(key) ?? [];
    const inkCols = cols.filter((c) => c !== 0);
    const rows = inkCols.reduce((a, c) => a | c, 0);
    const weak = new Set(inkCols).size === 1 ? true : (rows & (rows - 1)) === 0 || (rows & (rows >> scale)) === 0;
    list.push({ code, cols, lead, ink, weak });
    byFirstInk.set(key, list);
  }
  return { font: index, scale, height: f.height * scale, spaceWidth: spaceWidth || 4 * scale, byFirstInk };
}

interface Hit {
  face: Face;
  glyph: Glyph;
  x: number;
  y: number;
  inverse: boolean;
}

/** The pixel column at x from row y, `height` rows (bit k = row y+k); off the panel reads as paper. */
function column(img: MonoImage, x: number, y: number, height: number, inverse: boolean): number {
  if (x < 0 || x >= img.width) return 0;
  let col = 0;
  for (let k = 0; k < height; k++) {
    const yy = y + k;
    if (yy < 0 || yy >= img.height) continue;
    if (!!img.pixels[yy * img.width + x] !== inverse) col |= 1 << k;
  }
  return col;
}

function candidates(img: MonoImage, face: Face, inverse: boolean): Hit[] {
  const hits: Hit[] = [];
  for (let y = 0; y + face.height <= img.height; y++) {
    const cols: number[] = [];
    for (let x = 0; x < img.width; x++) cols.push(column(img, x, y, face.height, inverse));
    const at = (x: number): number => (x < 0 || x >= img.width ? 0 : cols[x]);
    for (let x = 0; x < img.width; x++) {
      const list = face.byFirstInk.get(cols[x]);
      if (!list) continue;
      for (const g of list) {
        const x0 = x - g.lead;
        let ok = true;
        for (let i = 0; i < g.cols.length && ok; i++) {
          // only blank columns may fall off the right edge (drawString never starts a glyph in
          // the last column, so the last glyph in a row is often cut after its ink)
          ok = x0 + i >= img.width ? g.cols[i] === 0 : at(x0 + i) === g.cols[i];
        }
        if (ok) hits.push({ face, glyph: g, x: x0, y, inverse });
      }
    }
  }
  return hits;
}

/**
 * The text lines on the panel, top to bottom and left to right, read with `fonts` (each at
 * the scales given, default 1 and 2).
 */
export function readLines(img: MonoImage, fonts: readonly CustomFont[], scales: readonly number[] = [1, 2]): ScreenLine[] {
  const hits: Hit[] = [];
  fonts.forEach((f, i) => {
    for (const s of new Set([f.scale, ...scales])) {
      const face = faceOf(f, i, s);
      hits.push(...candidates(img, face, false), ...candidates(img, face, true));
    }
  });
  // more ink explained first; among equals the larger glyph (fewer, surer matches). Weak
  // glyphs ('-', '_', '.') come last and count only on a line a strong glyph has started:
  // an underscore one row up must not take the pixels of a dash.
  const key = (h: Hit): string => `${h.y}/${h.face.font}/${h.face.scale}/${h.inverse ? 1 : 0}`;
  hits.sort((a, b) => b.glyph.ink - a.glyph.ink || b.glyph.cols.length * b.face.height - a.glyph.cols.length * a.face.height);
  const claimed = new Uint8Array(img.width * img.height * 2);
  const accepted: Hit[] = [];
  const lineKeys = new Set<string>();
  const claim = (h: Hit): boolean => {
    const cells: number[] = [];
    for (let i = 0; i < h.glyph.cols.length; i++) {
      const x = h.x + i;
      if (x < 0 || x >= img.width) continue;
      for (let k = 0; k < h.face.height; k++) {
        if (!((h.glyph.cols[i] >> k) & 1)) continue;
        const idx = ((h.y + k) * img.width + x) * 2 + (h.inverse ? 1 : 0);
        if (claimed[idx]) return false;
        cells.push(idx);
      }
    }
    for (const c of cells) claimed[c] = 1;
    accepted.push(h);
    return true;
  };
  for (const h of hits) if (!h.glyph.weak && claim(h)) lineKeys.add(key(h));
  for (const h of hits) if (h.glyph.weak && lineKeys.has(key(h))) claim(h);
  // group by line: same top, face and polarity
  const groups = new Map<string, Hit[]>();
  for (const h of accepted) {
    const g = groups.get(key(h)) ?? [];
    g.push(h);
    groups.set(key(h), g);
  }
  const lines: ScreenLine[] = [];
  for (const g of groups.values()) {
    g.sort((a, b) => a.x - b.x);
    const face = g[0].face;
    let text = '';
    let end = g[0].x;
    for (const h of g) {
      const gap = h.x - end;
      if (text && gap >= face.spaceWidth) text += ' '.repeat(Math.round(gap / face.spaceWidth));
      text += String.fromCharCode(h.glyph.code);
      end = h.x + h.glyph.cols.length;
    }
    lines.push({ text, x: g[0].x, y: g[0].y, font: face.font, scale: face.scale, inverse: g[0].inverse });
  }
  lines.sort((a, b) => a.y - b.y || a.x - b.x);
  return lines;
}

/**
 * The panel as plain text: lines whose tops are within half a line of each other are one
 * row (joined left to right with a space between separate runs), rows top to bottom.
 */
export function readText(img: MonoImage, fonts: readonly CustomFont[]): string {
  const lines = readLines(img, fonts);
  const rows: ScreenLine[][] = [];
  for (const l of lines) {
    const row = rows.find((r) => Math.abs(r[0].y - l.y) * 2 < Math.max(1, fonts[l.font].height * l.scale));
    if (row) row.push(l);
    else rows.push([l]);
  }
  return rows.map((r) => r.sort((a, b) => a.x - b.x).map((l) => l.text).join(' ')).join('\n');
}
