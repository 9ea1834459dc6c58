// Terminal renderings of the panel: Unicode braille (2×4 pixels per character: 64×16
// characters for 128×64) and half blocks (1×2 pixels per character: 128×32), optionally
// inside a box-drawing frame.

import type { MonoImage } from './png';

export interface TextOptions {
  /** Draw a frame around the picture; a string is also shown as a title in the top edge. */
  frame?: boolean | string;
  /** Show unlit pixels as ink (for light-on-dark terminals that want a negative). */
  invert?: boolean;
}

function lit(img: MonoImage, x: number, y: number, invert: boolean): boolean {
  if (x >= img.width || y >= img.height) return false; // outside the panel: never drawn
  return !!img.pixels[y * img.width + x] !== invert;
}

function framed(lines: string[], width: number, frame: boolean | string | undefined): string {
  if (!frame) return lines.join('\n');
  let top = '─'.repeat(width);
  const title = typeof frame === 'string' && frame.length > 0 ? ' ' + frame + ' ' : '';
  if (title && title.length + 2 <= width) top = '─' + title + '─'.repeat(width - 1 - title.length); // a title that does not fit is left out
  return ['┌' + top + '┐', ...lines.map((l) => '│' + l + '│'), '└' + '─'.repeat(width) + '┘'].join('\n');
}

/** Braille dot bits for (dx, dy) in a 2×4 cell (dots 1–8 of U+2800). */
const DOTS = [
  [0x01, 0x08],
  [0x02, 0x10],
  [0x04, 0x20],
  [0x40, 0x80],
];

/** The image in braille characters: each character shows 2 columns × 4 rows of pixels. */
export function toBraille(img: MonoImage, opts: TextOptions = {}): string {
  const cols = Math.ceil(img.width / 2);
  const rows = Math.ceil(img.height / 4);
  const inv = !!opts.invert;
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let c = 0; c < cols; c++) {
      let bits = 0;
      for (let dy = 0; dy < 4; dy++) {
        for (let dx = 0; dx < 2; dx++) if (lit(img, 2 * c + dx, 4 * r + dy, inv)) bits |= DOTS[dy][dx];
      }
      line += String.fromCharCode(0x2800 + bits);
    }
    lines.push(line);
  }
  return framed(lines, cols, opts.frame);
}

/** The image in half blocks: each character shows 1 column × 2 rows (▀ top, ▄ bottom, █ both). */
export function toHalfBlocks(img: MonoImage, opts: TextOptions = {}): string {
  const rows = Math.ceil(img.height / 2);
  const inv = !!opts.invert;
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let x = 0; x < img.width; x++) {
      const top = lit(img, x, 2 * r, inv);
      const bottom = lit(img, x, 2 * r + 1, inv);
      line += top ? (bottom ? '█' : '▀') : bottom ? '▄' : ' ';
    }
    lines.push(line);
  }
  return framed(lines, img.width, opts.frame);
}
