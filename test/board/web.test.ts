// The emulator's web front end: the page drives the device (keypad buttons, computer keys,
// card slot) and shows its display on a canvas, checked in a real Chromium; and the HTTP
// API is closed to other sites (Host, Origin, content type) like any localhost daemon.

import http from 'node:http';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatedDevice } from '../../board/emulator/device';
import { decodePng } from '../../board/emulator/png';
import { WebFrontEnd, packPixels } from '../../board/emulator/web';
import { EmulatedCard } from '../../board/card/card';
import { personalise } from '../../board/card/personalise';
import pinmap from '../../board/pinmap.json';
import { launchChromium } from '../helpers/chromium';


// A small firmware: the SSD1306 init of device.test.ts and a scanning keypad driver; each
// key lights the 32×16 block at its own place in the layout (key at row r, column c: x
// 32c..32c+31, y 16r..16r+15), until the next key.
const BUNDLE = `
var P = ${JSON.stringify(pinmap.keypad)};
I2C1.setup({ scl: B6, sda: B7, bitrate: 400000 });
var init = [0xAE, 0xD5, 0x80, 0xA8, 0x3F, 0xD3, 0x00, 0x40, 0x8D, 0x14, 0x20, 0x00, 0xA1, 0xC8, 0xDA, 0x12, 0x81, 0xCF, 0xD9, 0xF1, 0xDB, 0x40, 0xA4, 0xA6, 0xAF];
I2C1.writeTo(0x3C, [0x00].concat(init));
function show(r, c) {
  var fb = new Uint8Array(1024);
  for (var y = r * 16; y < r * 16 + 16; y++) for (var x = c * 32; x < c * 32 + 32; x++) fb[(y >> 3) * 128 + x] |= 1 << (y & 7);
  I2C1.writeTo(0x3C, [0x00, 0x21, 0, 127, 0x22, 0, 7]);
  for (var off = 0; off < 1024; off += 32) {
    var chunk = new Uint8Array(33); chunk[0] = 0x40; chunk.set(fb.subarray(off, off + 32), 1);
    I2C1.writeTo(0x3C, chunk);
  }
}
P.rows.forEach(function (r) { pinMode(r, 'opendrain'); digitalWrite(r, 1); });
P.cols.forEach(function (c) { pinMode(c, 'input_pullup'); });
var last = null;
setInterval(function () {
  var now = null;
  for (var r = 0; r < 4 && now === null; r++) {
    digitalWrite(P.rows[r], 0);
    for (var c = 0; c < 4; c++) if (!digitalRead(P.cols[c])) { now = [r, c]; break; }
    digitalWrite(P.rows[r], 1);
  }
  var id = now ? now[0] * 4 + now[1] : null;
  if (id !== null && id !== last) show(now[0], now[1]);
  last = id;
}, 10);
USB.write('ready');
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, f: () => T | Promise<T>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(25);
  }
}

/** Lit pixels of a key's block in the layout, as the test firmware draws it. */
function blockOf(key: string): Uint8Array {
  const px = new Uint8Array(128 * 64);
  pinmap.keypad.layout.forEach((row, r) =>
    row.forEach((k, c) => {
      if (k !== key) return;
      for (let y = r * 16; y < r * 16 + 16; y++) for (let x = c * 32; x < c * 32 + 32; x++) px[y * 128 + x] = 1;
    }),
  );
  return px;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const postJson = (port: number, path: string, data: unknown, headers: Record<string, string> = {}) =>
  request(port, 'POST', path, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(data));

function makeCard(): EmulatedCard {
  const made = personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 500 });
  return new EmulatedCard(made.nv);
}

describe('web front end', () => {
  let device: EmulatedDevice;
  let web: WebFrontEnd;
  const powerCalls: boolean[] = [];

  beforeAll(async () => {
    device = new EmulatedDevice({ firmware: BUNDLE, onConsole: () => {} });
    web = new WebFrontEnd(device, {
      port: 0,
      makeCard,
      onPower: (on) => {
        powerCalls.push(on);
        if (on) {
          const next = new EmulatedDevice({ firmware: BUNDLE, onConsole: () => {} });
          next.powerOn();
          web.setDevice(next);
        } else web.device.powerOff();
      },
    });
    const port = await web.start();
    expect(port).toBeGreaterThan(0);
    expect(web.url).toBe(`http://127.0.0.1:${port}/`);
    device.powerOn();
  });

  afterAll(async () => {
    await web.stop();
    web.device.powerOff();
  });

  test('GET /api/screen packs the panel 8 px per byte, MSB first; /api/screen.png is the PNG', async () => {
    const r = await request(web.port, 'GET', '/api/screen');
    expect(r.status).toBe(200);
    const s = JSON.parse(r.body) as { on: boolean; width: number; height: number; pixels: string };
    expect(s).toMatchObject({ on: true, width: 128, height: 64 });
    expect(Buffer.from(s.pixels, 'base64')).toEqual(packPixels(device.display.pixels()));
    const px = new Uint8Array(128 * 64);
    px[0] = 1;
    px[9] = 1;
    expect([...packPixels(px).subarray(0, 2)]).toEqual([0x80, 0x40]);
    const png = await new Promise<Buffer>((resolve) =>
      http.get({ port: web.port, host: '127.0.0.1', path: '/api/screen.png' }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve(Buffer.concat(parts)));
      }),
    );
    expect(decodePng(png).width).toBe(128 * 4 + 4);
  });

  test('security: wrong Host, non-JSON POST, foreign Origin refused; unknown key explained; no CORS; CSP and nosniff', async () => {
    const port = web.port;
    // DNS rebinding: the browser sends the attacker's host name
    const rebound = await request(port, 'GET', '/api/screen', { Host: `evil.example:${port}` });
    expect(rebound.status).toBe(421);
    expect(JSON.parse(rebound.body).error).toMatch(/wrong Host header/);
    expect((await request(port, 'GET', '/', { Host: `127.0.0.1:${port + 1}` })).status).toBe(421);
    expect((await request(port, 'GET', '/', { Host: `localhost:${port}` })).status).toBe(200);
    // a form or text/plain POST needs no preflight: refused
    const form = await request(port, 'POST', '/api/key', { 'Content-Type': 'text/plain' }, JSON.stringify({ key: '1', action: 'tap' }));
    expect(form.status).toBe(415);
    expect((await request(port, 'POST', '/api/key', {}, '{"key":"1","action":"tap"}')).status).toBe(415);
    const foreign = await postJson(port, '/api/key', { key: '1', action: 'tap' }, { Origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect((await postJson(port, '/api/card', { action: 'insert' }, { Origin: 'null' })).status).toBe(403);
    expect(device.card).toBeNull();
    expect(device.keypad.down()).toEqual([]);
    // the own origin is fine
    expect((await postJson(port, '/api/key', { key: '1', action: 'down' }, { Origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect(device.keypad.down()).toEqual(['1']);
    expect((await postJson(port, '/api/key', { key: '1', action: 'up' })).status).toBe(200);
    await waitFor('the key to be released', () => device.keypad.down().length === 0);
    const unknown = await postJson(port, '/api/key', { key: 'F1', action: 'tap' });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body).error).toBe('unknown key "F1": the keys are 1 2 3 UP 4 5 6 DOWN 7 8 9 MENU CANCEL 0 CLEAR OK');
    expect((await postJson(port, '/api/key', { key: '1', action: 'hold' })).status).toBe(400);
    expect((await request(port, 'POST', '/api/key', { 'Content-Type': 'application/json' }, '{nope')).status).toBe(400);
    expect((await postJson(port, '/api/key', { key: '1', action: 'tap', pad: 'x'.repeat(5000) })).status).toBe(413);
    expect((await request(port, 'DELETE', '/api/screen')).status).toBe(405);
    expect((await request(port, 'GET', '/../../package.json')).status).toBe(404);
    const page = await request(port, 'GET', '/', { Origin: 'http://evil.example' });
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'self'/);
    expect(Object.keys(page.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    expect(rebound.headers['x-content-type-options']).toBe('nosniff');
  });

  test('the page in Chromium: keypad button and computer key drive the device, the canvas follows, the card goes in', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(String(e)));
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      await page.goto(web.url);
      await page.getByRole('status').filter({ hasText: 'connected' }).waitFor();

      /** The canvas as 128×64 lit/unlit, sampled in the middle of each 4×4 pixel. */
      const canvasPixels = async (): Promise<Uint8Array> =>
        Uint8Array.from(
          // a string, evaluated in the page (the tests are type-checked without the DOM library)
          (await page.evaluate(`(() => {
            const d = document.getElementById('oled').getContext('2d').getImageData(0, 0, 512, 256).data;
            const out = [];
            for (let y = 0; y < 64; y++) for (let x = 0; x < 128; x++) out.push(d[((y * 4 + 2) * 512 + x * 4 + 2) * 4] > 100 ? 1 : 0);
            return out;
          })()`)) as number[],
        );

      // a keypad button clicked with the mouse
      await page.getByRole('button', { name: '5', exact: true }).click();
      await waitFor('the device to show key 5', () => same(device.display.pixels(), blockOf('5')));
      await waitFor('the canvas to show key 5', async () => same(await canvasPixels(), device.display.pixels()));

      // a computer key: Enter is OK
      await page.keyboard.press('Enter');
      await waitFor('the device to show OK', () => same(device.display.pixels(), blockOf('OK')));
      await waitFor('the canvas to show OK', async () => same(await canvasPixels(), device.display.pixels()));
      // a held mouse button holds the key
      const up = page.getByRole('button', { name: 'Up', exact: true });
      await up.hover();
      await page.mouse.down();
      await waitFor('UP held', () => device.keypad.down().includes('UP'));
      await sleep(150);
      expect(device.keypad.down()).toEqual(['UP']);
      await page.mouse.up();
      await waitFor('UP released', () => device.keypad.down().length === 0);
      await waitFor('the canvas to show UP', async () => same(await canvasPixels(), blockOf('UP')));

      // the card slot
      const slot = page.getByRole('button', { name: 'Insert card' });
      await slot.click();
      await waitFor('a card in the slot', () => device.card !== null, 15000);
      await page.getByRole('button', { name: 'Remove card' }).waitFor();
      expect(await page.locator('#card-state').textContent()).toBe('card inserted');
      await page.getByRole('button', { name: 'Remove card' }).click();
      await waitFor('the card out', () => device.card === null);
      await page.getByRole('button', { name: 'Insert card' }).waitFor();

      // link activity: bytes the host sends blink the LED and count
      device.usb.write(new Uint8Array([1, 2, 3]));
      await waitFor('the link counters', async () => /received 3 bytes/.test((await page.locator('#link-led').getAttribute('title')) ?? ''));

      const dir = mkdtempSync(join(tmpdir(), 'web-shot-'));
      const shot = join(dir, 'emulator.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(1000);

      // power: off blanks the canvas, on brings a fresh device
      await page.getByRole('button', { name: 'Power off' }).click();
      await page.getByRole('button', { name: 'Power on' }).waitFor();
      await waitFor('a dark canvas', async () => (await canvasPixels()).every((v) => v === 0));
      await page.getByRole('button', { name: 'Power on' }).click();
      await page.getByRole('button', { name: 'Power off' }).waitFor();
      expect(powerCalls).toEqual([false, true]);
      expect(web.device).not.toBe(device);
      await page.keyboard.press('7');
      await waitFor('the new device to show key 7', () => same(web.device.display.pixels(), blockOf('7')));
      await waitFor('the canvas to show key 7', async () => same(await canvasPixels(), blockOf('7')));
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60000);
});
