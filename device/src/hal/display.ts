// The display: an SSD1306 128×64 OLED on I2C (board/pinmap.json), drawn through a 1-bpp
// Graphics buffer laid out as the controller's memory (vertical bytes, LSB at the top), so
// a frame goes to the panel unchanged.

const PM = __PINMAP__;

/** The usual SSD1306 start-up for a 128×64 module with the charge pump (datasheet app. note). */
const INIT = [0xae, 0xd5, 0x80, 0xa8, 0x3f, 0xd3, 0x00, 0x40, 0x8d, 0x14, 0x20, 0x00, 0xa1, 0xc8, 0xda, 0x12, 0x81, 0xcf, 0xd9, 0xf1, 0xdb, 0x40, 0xa4, 0xa6, 0xaf];

export const WIDTH = 128;
export const HEIGHT = 64;

export class Display {
  g: EspruinoGraphics;
  private addr: number;

  constructor() {
    this.addr = PM.display.address;
    I2C1.setup({ scl: PM.display.scl, sda: PM.display.sda, bitrate: PM.display.bitrate });
    this.cmd(INIT);
    this.g = Graphics.createArrayBuffer(WIDTH, HEIGHT, 1, { vertical_byte: true, msb: false });
  }

  private cmd(bytes: number[]): void {
    I2C1.writeTo(this.addr, 0x00, bytes);
  }

  /** Sends the whole frame, a page (128 bytes) per transfer: a short peak of memory. */
  flip(): void {
    this.cmd([0x21, 0, WIDTH - 1, 0x22, 0, HEIGHT / 8 - 1]);
    for (let page = 0; page < HEIGHT / 8; page++) I2C1.writeTo(this.addr, 0x40, new Uint8Array(this.g.buffer, page * WIDTH, WIDTH));
  }
}
