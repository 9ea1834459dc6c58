// The SSD1306 OLED controller (Solomon Systech SSD1306, datasheet Rev 1.1) on a 128×64
// monochrome panel, driven over I²C: the control byte (Co, D/C#), the command decoder
// with its parameter bytes, the 128×8-page GDDRAM with its address pointer and the three
// addressing modes, and the image the panel shows, derived from GDDRAM and the display
// registers (start line, offset, multiplex ratio, COM scan direction, COM pin
// configuration, inverse, entire-on, display on/off, charge pump). See DISPLAY.md.

import type { I2CBus, I2CDevice } from './i2c';

export const WIDTH = 128;
export const HEIGHT = 64;
const PAGES = 8;

/** Parameter bytes each multi-byte command takes (Rev 1.1 command table). */
const PARAMS: Record<number, number> = {
  0x81: 1, // contrast
  0x20: 1, // memory addressing mode
  0x21: 2, // column address (start, end)
  0x22: 2, // page address (start, end)
  0xa8: 1, // multiplex ratio
  0xd3: 1, // display offset
  0xd5: 1, // clock divide / oscillator
  0xd9: 1, // pre-charge period
  0xda: 1, // COM pins hardware configuration
  0xdb: 1, // VCOMH deselect level
  0x8d: 1, // charge pump (application note)
  0xa3: 2, // vertical scroll area
  0x26: 6, // right horizontal scroll
  0x27: 6, // left horizontal scroll
  0x29: 5, // vertical and right horizontal scroll
  0x2a: 5, // vertical and left horizontal scroll
  0x23: 1, // fade out / blinking (later datasheet revisions)
  0xd6: 1, // zoom in (later datasheet revisions)
};

export type AddressingMode = 'horizontal' | 'vertical' | 'page';

export interface ScrollSetup {
  command: number;
  startPage: number;
  interval: number;
  endPage: number;
  verticalOffset: number;
}

export interface Ssd1306Options {
  /**
   * The module supplies VCC itself (no charge pump needed). Typical 0.96" I²C modules do
   * not: their panel stays dark unless the charge pump is enabled (8D 14). Default false.
   */
  externalVcc?: boolean;
  /**
   * How the glass faces the viewer. 'module' (default): as on common 0.96" 128×64 modules
   * held with the header at the top, SEG0 is the right edge and COM0 the bottom edge, so
   * the usual init (A1 segment remap, C8 reversed scan) shows GDDRAM column 0 / page 0
   * bit 0 at the top-left — what Espruino's and Adafruit's drivers rely on. 'raw': SEG0
   * left, COM0 top.
   */
  orientation?: 'module' | 'raw';
}

/** One SSD1306 and its 128×64 panel, as an I²C device. */
export class Ssd1306 implements I2CDevice {
  /** GDDRAM, page-major: byte [page * 128 + seg], bit n = row page*8+n. Stored by segment (after remap). */
  readonly gddram = new Uint8Array(WIDTH * PAGES);

  // fundamental
  isOn = false; // AE after reset
  contrast = 0x7f;
  entireOn = false; // A4
  inverse = false; // A6
  // addressing
  addressingMode: AddressingMode = 'page';
  columnStart = 0;
  columnEnd = 127;
  pageStart = 0;
  pageEnd = 7;
  /** The address pointer. */
  column = 0;
  page = 0;
  // hardware configuration
  startLine = 0;
  segmentRemap = false; // A0
  comScanReversed = false; // C0
  multiplex = 63; // A8: MUX ratio - 1
  displayOffset = 0;
  comPins = 0x12; // DA: alternative COM pin configuration, no left/right remap
  clock = 0x80;
  precharge = 0x22;
  vcomh = 0x20;
  chargePump = false; // 8D 10
  // scrolling (decoded, not animated: see DISPLAY.md)
  scrolling = false;
  scroll: ScrollSetup | null = null;
  verticalScrollArea = { fixedRows: 0, scrollRows: 64 };
  /** Commands the decoder did not know (ignored, as the chip ignores undefined codes). */
  readonly unknownCommands: number[] = [];

  private pending: number[] = [];
  private pendingCount = 0;
  private readonly externalVcc: boolean;
  readonly orientation: 'module' | 'raw';

  constructor(
    readonly address = 0x3c,
    opts: Ssd1306Options = {},
  ) {
    this.externalVcc = opts.externalVcc ?? false;
    this.orientation = opts.orientation ?? 'module';
  }

  attachTo(bus: I2CBus): this {
    bus.attach(this.address, this);
    return this;
  }

  // ---------------------------------------------------------------- I²C interface

  /**
   * One I²C write transaction (after the slave address): control bytes decide how the
   * bytes after them are taken. Co=1: exactly one byte follows, then another control byte;
   * Co=0: every byte to the end of the transaction is data (D/C#=1) or command (D/C#=0).
   */
  write(bytes: Uint8Array, _stop: boolean): void {
    let i = 0;
    while (i < bytes.length) {
      const control = bytes[i++];
      const co = (control & 0x80) !== 0;
      const dc = (control & 0x40) !== 0;
      if (co) {
        if (i < bytes.length) this.take(bytes[i++], dc);
      } else {
        for (; i < bytes.length; i++) this.take(bytes[i], dc);
      }
    }
  }

  /** A read returns the status byte: D6 = 1 when the display is off (datasheet: status register). */
  read(count: number, _stop: boolean): Uint8Array {
    return new Uint8Array(count).fill(this.isOn ? 0x00 : 0x40);
  }

  /** Feeds one byte as command (dc false) or GDDRAM data (dc true). */
  take(byte: number, dc: boolean): void {
    if (dc) this.writeData(byte);
    else this.command(byte);
  }

  // ---------------------------------------------------------------- command decoder

  /** One command byte (or a parameter of the pending command). */
  command(byte: number): void {
    const b = byte & 0xff;
    if (this.pendingCount > 0) {
      this.pending.push(b);
      if (this.pending.length === this.pendingCount + 1) {
        const [cmd, ...params] = this.pending;
        this.pending = [];
        this.pendingCount = 0;
        this.execute(cmd, params);
      }
      return;
    }
    const n = PARAMS[b];
    if (n) {
      this.pending = [b];
      this.pendingCount = n;
      return;
    }
    this.execute(b, []);
  }

  /** True while a multi-byte command waits for parameter bytes. */
  get awaitingParameters(): boolean {
    return this.pendingCount > 0;
  }

  private execute(cmd: number, p: number[]): void {
    if (cmd <= 0x0f) {
      this.column = (this.column & 0x70) | cmd;
      return;
    }
    if (cmd >= 0x10 && cmd <= 0x1f) {
      this.column = ((cmd & 0x07) << 4) | (this.column & 0x0f);
      return;
    }
    if (cmd >= 0x40 && cmd <= 0x7f) {
      this.startLine = cmd & 0x3f;
      return;
    }
    if (cmd >= 0xb0 && cmd <= 0xb7) {
      this.page = cmd & 0x07;
      return;
    }
    switch (cmd) {
      case 0x81:
        this.contrast = p[0];
        return;
      case 0xa4:
      case 0xa5:
        this.entireOn = cmd === 0xa5;
        return;
      case 0xa6:
      case 0xa7:
        this.inverse = cmd === 0xa7;
        return;
      case 0xae:
      case 0xaf:
        this.isOn = cmd === 0xaf;
        return;
      case 0x20: {
        const m = p[0] & 0x03;
        if (m !== 3) this.addressingMode = m === 0 ? 'horizontal' : m === 1 ? 'vertical' : 'page';
        return; // 11b is invalid: ignored
      }
      case 0x21:
        this.columnStart = p[0] & 0x7f;
        this.columnEnd = p[1] & 0x7f;
        this.column = this.columnStart;
        return;
      case 0x22:
        this.pageStart = p[0] & 0x07;
        this.pageEnd = p[1] & 0x07;
        this.page = this.pageStart;
        return;
      case 0xa0:
      case 0xa1:
        this.segmentRemap = cmd === 0xa1;
        return;
      case 0xc0:
      case 0xc8:
        this.comScanReversed = cmd === 0xc8;
        return;
      case 0xa8: {
        const m = p[0] & 0x3f;
        if (m >= 15) this.multiplex = m; // 0–14 are invalid entries
        return;
      }
      case 0xd3:
        this.displayOffset = p[0] & 0x3f;
        return;
      case 0xda:
        this.comPins = (p[0] & 0x30) | 0x02;
        return;
      case 0xd5:
        this.clock = p[0];
        return;
      case 0xd9:
        this.precharge = p[0];
        return;
      case 0xdb:
        this.vcomh = p[0] & 0x70;
        return;
      case 0x8d:
        this.chargePump = (p[0] & 0x04) !== 0;
        return;
      case 0x26:
      case 0x27:
        this.scroll = { command: cmd, startPage: p[1] & 7, interval: p[2] & 7, endPage: p[3] & 7, verticalOffset: 0 };
        return;
      case 0x29:
      case 0x2a:
        this.scroll = { command: cmd, startPage: p[1] & 7, interval: p[2] & 7, endPage: p[3] & 7, verticalOffset: p[4] & 0x3f };
        return;
      case 0xa3:
        this.verticalScrollArea = { fixedRows: p[0] & 0x3f, scrollRows: p[1] & 0x7f };
        return;
      case 0x2e:
        this.scrolling = false;
        return;
      case 0x2f:
        this.scrolling = this.scroll !== null;
        return;
      case 0xe3: // NOP
      case 0x23:
      case 0xd6:
        return;
      default:
        this.unknownCommands.push(cmd);
    }
  }

  // ---------------------------------------------------------------- GDDRAM

  /** One data byte into GDDRAM at the pointer, then the pointer advances per the addressing mode. */
  writeData(byte: number): void {
    // segment remap acts on data as it is written (A0/A1 "only affects subsequent data input")
    const seg = this.segmentRemap ? 127 - this.column : this.column;
    this.gddram[this.page * WIDTH + seg] = byte & 0xff;
    this.advance();
  }

  private advance(): void {
    switch (this.addressingMode) {
      case 'page':
        this.column = this.column === this.columnEnd ? this.columnStart : (this.column + 1) & 0x7f;
        return;
      case 'horizontal':
        if (this.column === this.columnEnd) {
          this.column = this.columnStart;
          this.page = this.page === this.pageEnd ? this.pageStart : (this.page + 1) & 7;
        } else this.column = (this.column + 1) & 0x7f;
        return;
      case 'vertical':
        if (this.page === this.pageEnd) {
          this.page = this.pageStart;
          this.column = this.column === this.columnEnd ? this.columnStart : (this.column + 1) & 0x7f;
        } else this.page = (this.page + 1) & 7;
        return;
    }
  }

  // ---------------------------------------------------------------- the panel

  /**
   * The chip's COM output that drives panel row `y`, for the module's wiring: the panel is
   * wired for the alternative COM configuration (DA 12), so row y is COM y there; other
   * DA settings give the interleaved/swapped images a real module shows.
   */
  comForRow(y: number): number {
    // y counts the panel's physical rows from the COM0 edge
    const alternative = (this.comPins & 0x10) !== 0;
    const lrRemap = (this.comPins & 0x20) !== 0;
    // the module routes even panel rows to one bank of COM pads, odd rows to the other
    const bankA = (y & 1) === 0;
    const pos = y >> 1;
    if (alternative) {
      const even = bankA !== lrRemap; // bank A carries the even COMs unless left/right remapped
      return 2 * pos + (even ? 0 : 1);
    }
    const low = bankA !== lrRemap; // sequential: bank A carries COM0–31 unless remapped
    return (low ? 0 : 32) + pos;
  }

  /**
   * The GDDRAM row shown on COM `com`, or -1 if that COM is not driven (outside the
   * multiplex ratio). Scan direction, display offset and start line as in the datasheet's
   * Table 10-1: COM i shows row counter k = (i + offset) mod 64 (mirrored within the MUX
   * for C8), k < MUX rows, GDDRAM row (start line + k) mod 64.
   */
  rowForCom(com: number): number {
    const mux = this.multiplex + 1;
    const i = this.comScanReversed ? (((mux - 1 - com) % 64) + 64) % 64 : com;
    const k = (i + this.displayOffset) % 64;
    if (k >= mux) return -1;
    return (this.startLine + k) % 64;
  }

  /** Whether the panel is lit at all: display on and a supply for the OLED drivers. */
  get powered(): boolean {
    return this.isOn && (this.chargePump || this.externalVcc);
  }

  /** The panel as the viewer sees it: 128×64, row-major from the top-left, 1 = lit. */
  pixels(): Uint8Array {
    const out = new Uint8Array(WIDTH * HEIGHT);
    if (!this.powered) return out;
    const turned = this.orientation === 'module';
    for (let y = 0; y < HEIGHT; y++) {
      const row = this.rowForCom(this.comForRow(turned ? HEIGHT - 1 - y : y));
      if (row < 0) continue;
      const base = (row >> 3) * WIDTH;
      const bit = 1 << (row & 7);
      for (let x = 0; x < WIDTH; x++) {
        const seg = turned ? WIDTH - 1 - x : x;
        let lit = this.entireOn ? 1 : (this.gddram[base + seg] & bit) !== 0 ? 1 : 0;
        if (this.inverse && !this.entireOn) lit ^= 1;
        out[y * WIDTH + x] = lit;
      }
    }
    return out;
  }

  /** The panel as an image for png.ts / screen-text.ts. */
  image(): { width: number; height: number; pixels: Uint8Array } {
    return { width: WIDTH, height: HEIGHT, pixels: this.pixels() };
  }

  /** Power-on reset: registers to their reset values (GDDRAM is left as it was). */
  reset(): void {
    Object.assign(this, new Ssd1306(this.address, { externalVcc: this.externalVcc, orientation: this.orientation }), { gddram: this.gddram });
  }
}
