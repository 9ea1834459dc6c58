// TINGUIN, the trusted user interface: what the display shows and what the keys do. One
// view at a time fills the body; a status bar above it is always drawn (host link, card,
// and during an operation "step n/m label"); a footer says what the keys do now. MENU opens
// the help of the current view on top of it. All text here is font bytes (ui/text.ts).

import { FONT_FIRST, FONT_HEIGHT } from './font';
import { resource } from '../resources';
import { textWidth, useFontWidths, wrap } from './text';
import { t } from './lang';

export const W = 128;
const STATUS_H = 9;
/** The body's first and last pixel rows: 5 text rows of 9 (8 of glyph, 1 of space) fit. */
export const BODY_TOP = 10;
const BODY_BOTTOM = 54;
const FOOT_Y = 56;
export const ROW_H = 9;
const BIG_H = 17;

/** A line of a scrolling view: plain, large (scale 2) or inverse. */
export interface Row {
  t: string;
  big?: boolean;
  inv?: boolean;
}

export interface View {
  /** Draws the body (below the status bar, above the footer). */
  draw(g: EspruinoGraphics): void;
  /** The footer line: what the keys do now. */
  footer(): string;
  key(k: string): void;
  /** Help text (font bytes) for MENU; none: MENU goes to the view. */
  help?: string;
}

export interface Screen {
  g: EspruinoGraphics;
  flip(): void;
}

export interface StatusInfo {
  link: boolean;
  card: boolean;
  step: number;
  steps: number;
  label: string;
}

let bitmap = '';
let widths = '';

function font(g: EspruinoGraphics, scale: number): void {
  if (!bitmap) {
    bitmap = resource('font');
    widths = resource('fontw');
    useFontWidths(widths);
  }
  g.setFontCustom(bitmap, FONT_FIRST, widths, FONT_HEIGHT | (scale << 8));
}

/** Rows of wrapped text: each paragraph of `s` wrapped to the display width. */
export function textRows(s: string, big?: boolean, inv?: boolean): Row[] {
  // rows end before the scroll bar's columns (W-3..W-1, cleared when it is drawn) and the pixel
  // left of them: a glyph in the last columns would be half hidden — the trusted screen must
  // show every character whole
  const lines = wrap(s, big ? (W - 5) >> 1 : W - 5);
  const rows: Row[] = [];
  for (let i = 0; i < lines.length; i++) rows.push({ t: lines[i], big: big, inv: inv });
  return rows;
}

/**
 * A list of rows that scrolls with UP and DOWN. `seenAll` becomes true once the last row
 * has been on screen — statements accept OK only then.
 */
export class ScrollView implements View {
  rows: Row[];
  top: number;
  seenAll: boolean;
  help?: string;
  private onKey: (k: string, v: ScrollView) => void;
  private foot: (v: ScrollView) => string;

  constructor(rows: Row[], onKey: (k: string, v: ScrollView) => void, foot: (v: ScrollView) => string, help?: string) {
    this.rows = rows;
    this.top = 0;
    this.seenAll = false;
    this.onKey = onKey;
    this.foot = foot;
    this.help = help;
    this.fits();
  }

  /** Rows from `top` that fit in the body; updates seenAll. */
  private fits(): number {
    let y = BODY_TOP;
    let n = 0;
    for (let i = this.top; i < this.rows.length; i++) {
      const h = this.rows[i].big ? BIG_H : ROW_H;
      if (y + h - 2 > BODY_BOTTOM) break;
      y += h;
      n++;
    }
    if (this.top + n >= this.rows.length) this.seenAll = true;
    return n;
  }

  /** True when rows below the screen remain. */
  more(): boolean {
    return this.top + this.fits() < this.rows.length;
  }

  draw(g: EspruinoGraphics): void {
    const n = this.fits();
    let y = BODY_TOP;
    for (let i = this.top; i < this.top + n; i++) {
      const r = this.rows[i];
      const h = r.big ? BIG_H : ROW_H;
      if (r.inv) {
        g.setColor(1).fillRect(0, y - 1, W - 1, y + h - 2);
        g.setColor(0);
      }
      font(g, r.big ? 2 : 1);
      g.drawString(r.t, 1, y);
      font(g, 1);
      g.setColor(1);
      y += h;
    }
    // a scroll bar when the rows do not fit: where we are, how much there is
    if (this.rows.length > n) {
      const span = BODY_BOTTOM - BODY_TOP;
      const y1 = BODY_TOP + Math.floor((span * this.top) / this.rows.length);
      const y2 = BODY_TOP + Math.ceil((span * (this.top + n)) / this.rows.length);
      g.clearRect(W - 3, BODY_TOP - 1, W - 1, BODY_BOTTOM);
      g.drawLine(W - 2, y1, W - 2, y2);
    }
  }

  footer(): string {
    return this.foot(this);
  }

  key(k: string): void {
    if (k === 'DOWN') {
      if (this.more()) this.top++;
    } else if (k === 'UP') {
      if (this.top > 0) this.top--;
    } else this.onKey(k, this);
  }
}

/**
 * PIN entry: digits are shown as '*', CLEAR erases the last one, OK accepts 4–8 digits,
 * CANCEL gives up. The digits live only here and are handed to `done` once.
 */
export class PinView implements View {
  private pin: string;
  private title: string;
  private note: string;
  private done: (pin: string | null) => void;
  help: string;

  constructor(title: string, note: string, help: string, done: (pin: string | null) => void) {
    this.pin = '';
    this.title = title;
    this.note = note;
    this.help = help;
    this.done = done;
  }

  draw(g: EspruinoGraphics): void {
    font(g, 1);
    g.drawString(this.title, 1, BODY_TOP);
    if (this.note) g.drawString(this.note, 1, BODY_TOP + ROW_H);
    let mask = '';
    for (let i = 0; i < this.pin.length; i++) mask += '*';
    font(g, 2);
    g.drawString(mask.length ? mask : '_', 1, BODY_TOP + 2 * ROW_H + 1);
    font(g, 1);
  }

  footer(): string {
    return this.pin.length >= 4 ? t('foot.pinOk') : t('foot.pin');
  }

  key(k: string): void {
    if (k.length === 1 && k >= '0' && k <= '9') {
      if (this.pin.length < 8) this.pin += k;
    } else if (k === 'CLEAR') {
      this.pin = this.pin.substr(0, this.pin.length - 1);
    } else if (k === 'OK') {
      if (this.pin.length < 4) return;
      const p = this.pin;
      this.pin = '';
      this.done(p);
    } else if (k === 'CANCEL') {
      this.pin = '';
      this.done(null);
    }
  }
}

/** The display controller: status bar, one view, help on MENU, redraw on every change. */
export class Tinguin {
  screen: Screen;
  view: View | null;
  private helpView: ScrollView | null;
  status: StatusInfo;
  /** Called on every key before the view sees it (inactivity timers). */
  onActivity: () => void;

  constructor(screen: Screen) {
    this.screen = screen;
    this.view = null;
    this.helpView = null;
    this.status = { link: false, card: false, step: 0, steps: 0, label: '' };
    this.onActivity = () => {};
    font(screen.g, 1);
  }

  show(v: View): void {
    this.view = v;
    this.helpView = null;
    this.draw();
  }

  setStatus(link: boolean, card: boolean): void {
    this.status.link = link;
    this.status.card = card;
    this.draw();
  }

  setStep(step: number, steps: number, label: string): void {
    this.status.step = step;
    this.status.steps = steps;
    this.status.label = label;
    this.draw();
  }

  key(k: string): void {
    this.onActivity();
    if (this.helpView) {
      if (k === 'MENU' || k === 'OK' || k === 'CANCEL') this.helpView = null;
      else this.helpView.key(k);
      this.draw();
      return;
    }
    if (k === 'MENU' && this.view && this.view.help) {
      this.helpView = new ScrollView(
        textRows(this.view.help),
        () => {},
        () => t('foot.helpBack'),
      );
      this.draw();
      return;
    }
    if (this.view) this.view.key(k);
    this.draw();
  }

  private drawStatus(g: EspruinoGraphics): void {
    g.setColor(1).fillRect(0, 0, W - 1, STATUS_H - 1);
    g.setColor(0);
    const s = this.status;
    const right = (s.link ? t('status.pc') : t('status.noPc')) + ' ' + (s.card ? t('status.card') : t('status.noCard'));
    const left = s.steps > 0 ? s.step + '/' + s.steps + ' ' + s.label : '';
    const rw = textWidth(right);
    // during an operation the step has the room; the link and card move aside
    if (left) g.drawString(left, 1, 1);
    else g.drawString(right, W - rw - 1, 1);
    g.setColor(1);
  }

  draw(): void {
    const g = this.screen.g;
    g.clear();
    g.setColor(1);
    font(g, 1);
    this.drawStatus(g);
    const v = this.helpView || this.view;
    if (v) {
      v.draw(g);
      const f = v.footer();
      if (f) {
        g.drawLine(0, FOOT_Y - 1, W - 1, FOOT_Y - 1);
        g.drawString(f, 1, FOOT_Y);
      }
    }
    this.screen.flip();
  }
}
