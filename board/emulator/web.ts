// The emulated device in a web browser: a small HTTP server on 127.0.0.1 that serves a page
// (board/emulator/web/: the 128×64 OLED on a canvas, the 4×4 keypad, the card slot, a link
// activity LED and a power button) and the JSON/SSE API the page uses:
//
//   GET  /api/screen      {on, width, height, pixels}: pixels = base64 of 1024 bytes, 8 px per
//                         byte, row-major, most significant bit first, 1 = lit
//   GET  /api/screen.png  the panel as a PNG (OLED colours, ×4)
//   GET  /api/state       {power, card, link: {rx, tx}, keys}
//   GET  /api/events      Server-Sent Events: 'screen' (as /api/screen, only on change),
//                         'link' ({rx, tx, rxTotal, txTotal} when USB bytes move), 'card'
//                         ({present}), 'power' ({on})
//   POST /api/key         {key, action: 'down'|'up'|'tap'}
//   POST /api/card        {action: 'insert'|'remove'}
//   POST /api/power       {on}
//
// Like any daemon on localhost it must not be drivable by other web sites: the Host header
// must name this server (DNS rebinding), POSTs must be application/json (no simple-request
// CSRF) and come from this origin when the browser says where from, no CORS headers, and a
// strict Content-Security-Policy on everything.

import http from 'node:http';
import { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmulatedDevice } from './device';
import type { EmulatedCard } from '../card/card';
import { KEY_NAMES } from './keypad';

export interface WebFrontEndOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Makes the card that "Insert card" puts in the slot; without it, insert answers 409. */
  makeCard?: () => EmulatedCard;
  /**
   * The power button: called with the wanted state; the integrator powers the device off or
   * on (typically a new EmulatedDevice, passed back with setDevice()). May return a promise.
   * Without it, POST /api/power answers 409.
   */
  onPower?: (on: boolean) => void | Promise<void>;
  /** Whether the device is powered at start (default true). */
  powered?: boolean;
  /** Progress messages (default: nothing). */
  log?: (line: string) => void;
  /** Where index.html, app.js and style.css are (default: found beside this file or in the source tree). */
  staticDir?: string;
  /** How often the display, card and link are looked at, in ms (default 50). */
  pollMs?: number;
}

/** The shortest time a key is held, and the shortest gap between two presses of one key (ms): a mouse click is quicker than the firmware's debounce. */
export const MIN_HOLD_MS = 80;
export const MIN_GAP_MS = 40;

const WIDTH = 128;
const HEIGHT = 64;
const MAX_BODY = 4096;

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** The directory holding the page: beside this file (source tree, ts-jest) or, from dist/, back in the source tree. */
export function findStaticDir(): string {
  const candidates = [join(__dirname, 'web'), join(__dirname, '..', '..', '..', 'board', 'emulator', 'web')];
  for (const d of candidates) if (existsSync(join(d, 'index.html'))) return d;
  throw new Error(`the web page's files were not found (looked in ${candidates.join(', ')})`);
}

/** 128×64 pixels (1 = lit, row-major) packed 8 per byte, most significant bit first. */
export function packPixels(px: Uint8Array): Buffer {
  const out = Buffer.alloc(px.length >> 3);
  for (let i = 0; i < px.length; i++) if (px[i]) out[i >> 3] |= 0x80 >> (i & 7);
  return out;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Held {
  /** Time before which the next action on this key must wait. */
  busyUntil: number;
  down: boolean;
}

export class WebFrontEnd {
  private server: http.Server | null = null;
  private readonly clients = new Set<http.ServerResponse>();
  private poller: NodeJS.Timeout | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly held = new Map<string, Held>();
  private readonly log: (line: string) => void;
  private files: Record<string, Buffer> = {};
  private lastScreen = '';
  private lastCard: boolean | null = null;
  private trafficSeen = 0;
  private rxPending = 0;
  private txPending = 0;
  private rxTotal = 0;
  private txTotal = 0;
  private unhookRx: () => void = () => {};
  /** Whether the device is powered (as far as this front end knows). */
  power: boolean;
  /** The port listened on (after start). */
  port = 0;

  constructor(
    private dev: EmulatedDevice,
    private readonly opts: WebFrontEndOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.power = opts.powered ?? true;
    this.hookRx();
  }

  /** The page's address (after start). */
  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** The device shown. */
  get device(): EmulatedDevice {
    return this.dev;
  }

  /** Shows another device (e.g. after the integrator restarted it on the power button). */
  setDevice(device: EmulatedDevice, powered = true): void {
    this.unhookRx();
    this.held.clear();
    this.dev = device;
    this.trafficSeen = 0;
    this.hookRx();
    this.setPower(powered);
    this.tick();
  }

  /** Records the power state (and tells the page). */
  setPower(on: boolean): void {
    if (on === this.power) return;
    this.power = on;
    this.broadcast('power', { on });
    this.tick();
  }

  /** Counts bytes on the link that the device does not record itself (e.g. host → device). */
  noteTraffic(rx: number, tx = 0): void {
    this.rxPending += rx;
    this.txPending += tx;
  }

  async start(): Promise<number> {
    const dir = this.opts.staticDir ?? findStaticDir();
    this.files = {};
    for (const f of new Set(Object.values(STATIC_FILES).map((s) => s.file))) this.files[f] = readFileSync(join(dir, f));
    const port = this.opts.port ?? 0;
    await new Promise<void>((resolve, reject) => {
      const server = http.createServer((req, res) => this.handle(req, res));
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === 'EADDRINUSE' ? `port ${port} on 127.0.0.1 is in use: choose another (0 picks a free one)` : e.message)),
      );
      server.listen(port, '127.0.0.1', () => {
        this.server = server;
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
    this.lastScreen = this.screenJson();
    this.lastCard = this.dev.card !== null;
    this.trafficSeen = this.dev.usbTraffic.length;
    this.poller = setInterval(() => this.tick(), this.opts.pollMs ?? 50);
    this.poller.unref();
    this.log(`web front end on ${this.url}`);
    return this.port;
  }

  async stop(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const [key, h] of this.held) if (h.down) this.safeRelease(key);
    this.held.clear();
    this.unhookRx();
    for (const c of this.clients) c.end();
    this.clients.clear();
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  // ------------------------------------------------------------------ state

  /** The panel as the API sends it. */
  screen(): { on: boolean; width: number; height: number; pixels: string } {
    const on = this.power && this.dev.display.powered;
    const px = on ? this.dev.display.pixels() : new Uint8Array(WIDTH * HEIGHT);
    return { on, width: WIDTH, height: HEIGHT, pixels: packPixels(px).toString('base64') };
  }

  private screenJson(): string {
    return JSON.stringify(this.screen());
  }

  private state(): Record<string, unknown> {
    return {
      power: this.power,
      card: this.dev.card !== null,
      canInsert: !!this.opts.makeCard,
      canPower: !!this.opts.onPower,
      link: { rx: this.rxTotal, tx: this.txTotal },
      keys: KEY_NAMES,
    };
  }

  /** Host → device bytes: the device keeps no record, so its USB input is counted on the way in. */
  private hookRx(): void {
    const usb = this.dev.sandbox.USB;
    const original = usb.inject;
    usb.inject = (bytes: Uint8Array) => {
      this.rxPending += bytes.length;
      original.call(usb, bytes);
    };
    this.unhookRx = () => {
      usb.inject = original;
      this.unhookRx = () => {};
    };
  }

  private tick(): void {
    const s = this.screenJson();
    if (s !== this.lastScreen) {
      this.lastScreen = s;
      this.send('screen', s);
    }
    const card = this.dev.card !== null;
    if (card !== this.lastCard) {
      this.lastCard = card;
      this.broadcast('card', { present: card });
    }
    const traffic = this.dev.usbTraffic;
    let tx = this.txPending;
    this.txPending = 0;
    if (traffic.length < this.trafficSeen) this.trafficSeen = 0;
    for (; this.trafficSeen < traffic.length; this.trafficSeen++) tx += traffic[this.trafficSeen].length;
    const rx = this.rxPending;
    this.rxPending = 0;
    if (rx || tx) this.flushLink(rx, tx);
  }

  private flushLink(rx: number, tx: number): void {
    this.rxTotal += rx;
    this.txTotal += tx;
    this.broadcast('link', { rx, tx, rxTotal: this.rxTotal, txTotal: this.txTotal });
  }

  private broadcast(event: string, data: unknown): void {
    this.send(event, JSON.stringify(data));
  }

  private send(event: string, json: string): void {
    for (const c of this.clients) c.write(`event: ${event}\ndata: ${json}\n\n`);
  }

  // ------------------------------------------------------------------ keys

  private later(fn: () => void, at: number): void {
    const wait = at - Date.now();
    if (wait <= 0) return fn();
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, wait);
    this.timers.add(t);
  }

  private safeRelease(key: string): void {
    try {
      this.dev.keypad.release(key);
    } catch (e) {
      this.log(`release ${key}: ${(e as Error).message}`);
    }
  }

  /** Presses or releases, keeping presses long enough (and apart enough) for the firmware to see each one. */
  key(key: string, action: 'down' | 'up' | 'tap'): void {
    if (!KEY_NAMES.includes(key)) throw new HttpError(400, `unknown key ${JSON.stringify(key)}: the keys are ${KEY_NAMES.join(' ')}`);
    let h = this.held.get(key);
    if (!h) this.held.set(key, (h = { busyUntil: 0, down: false }));
    const rec = h;
    const dev = this.dev;
    const press = (): void => {
      const at = Math.max(Date.now(), rec.busyUntil);
      rec.busyUntil = at + MIN_HOLD_MS;
      rec.down = true;
      this.later(() => dev.keypad.press(key), at);
    };
    const release = (): void => {
      const at = Math.max(Date.now(), rec.busyUntil);
      rec.busyUntil = at + MIN_GAP_MS;
      rec.down = false;
      this.later(() => dev === this.dev && this.safeRelease(key), at);
    };
    if (action === 'down') {
      if (!rec.down) press();
    } else if (action === 'up') {
      if (rec.down) release();
    } else {
      if (!rec.down) press();
      release();
    }
  }

  // ------------------------------------------------------------------ HTTP

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    this.route(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) this.log(`${req.method} ${req.url}: ${(e as Error).message}`);
      if (res.headersSent) return void res.end();
      this.json(res, status, { error: e instanceof Error ? e.message : String(e) });
    });
  }

  private allowedHosts(): string[] {
    return [`127.0.0.1:${this.port}`, `localhost:${this.port}`];
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // DNS rebinding: a page from evil.example resolved to 127.0.0.1 still says Host: evil.example
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.allowedHosts().includes(host)) throw new HttpError(421, `wrong Host header ${JSON.stringify(req.headers.host ?? '')}: use ${this.url}`);
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (method === 'POST') return this.post(req, res, path);
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, POST');
      throw new HttpError(405, `method ${method} not allowed`);
    }
    const stat = STATIC_FILES[path];
    if (stat) {
      res.writeHead(200, { 'Content-Type': stat.type });
      return void res.end(method === 'HEAD' ? undefined : this.files[stat.file]);
    }
    switch (path) {
      case '/api/screen':
        return this.json(res, 200, this.screen());
      case '/api/screen.png': {
        const png = this.dev.screenshotPng(4);
        res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': png.length });
        return void res.end(method === 'HEAD' ? undefined : png);
      }
      case '/api/state':
        return this.json(res, 200, this.state());
      case '/api/events':
        return this.events(req, res);
      default:
        throw new HttpError(404, `no such page ${path}`);
    }
  }

  private events(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.flushHeaders();
    res.write('retry: 1000\n\n');
    this.clients.add(res);
    const write = (event: string, json: string): void => void res.write(`event: ${event}\ndata: ${json}\n\n`);
    write('power', JSON.stringify({ on: this.power }));
    write('card', JSON.stringify({ present: this.dev.card !== null }));
    write('screen', this.lastScreen || this.screenJson());
    write('link', JSON.stringify({ rx: 0, tx: 0, rxTotal: this.rxTotal, txTotal: this.txTotal }));
    const done = (): void => void this.clients.delete(res);
    req.on('close', done);
    res.on('error', done);
  }

  private async post(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    // CSRF: a foreign page can send a "simple" POST (form, text/plain) without a preflight,
    // but not one with Content-Type: application/json; and browsers name their origin
    const origin = req.headers.origin;
    if (origin !== undefined && !this.allowedHosts().some((h) => origin.toLowerCase() === `http://${h}`)) {
      throw new HttpError(403, `requests from origin ${JSON.stringify(origin)} are not accepted`);
    }
    if (req.headers['sec-fetch-site'] === 'cross-site') throw new HttpError(403, 'cross-site requests are not accepted');
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') throw new HttpError(415, 'POST bodies must be JSON (Content-Type: application/json)');
    const body = await readJson(req);
    switch (path) {
      case '/api/key': {
        const { key, action } = body;
        if (typeof key !== 'string') throw new HttpError(400, `"key" must be a key name: ${KEY_NAMES.join(' ')}`);
        if (action !== 'down' && action !== 'up' && action !== 'tap') throw new HttpError(400, '"action" must be "down", "up" or "tap"');
        this.key(key, action);
        return this.json(res, 200, { ok: true });
      }
      case '/api/card': {
        const { action } = body;
        if (action === 'insert') {
          if (!this.opts.makeCard) throw new HttpError(409, 'this emulator has no card to insert (started without a card maker)');
          this.dev.insertCard(this.opts.makeCard());
        } else if (action === 'remove') {
          this.dev.removeCard();
        } else throw new HttpError(400, '"action" must be "insert" or "remove"');
        this.tick();
        return this.json(res, 200, { ok: true, present: this.dev.card !== null });
      }
      case '/api/power': {
        const { on } = body;
        if (typeof on !== 'boolean') throw new HttpError(400, '"on" must be true or false');
        if (!this.opts.onPower) throw new HttpError(409, 'this emulator cannot be powered off and on from the page');
        if (on !== this.power) {
          await this.opts.onPower(on);
          this.setPower(on);
        }
        return this.json(res, 200, { ok: true, on: this.power });
      }
      default:
        throw new HttpError(404, `no such API ${path}`);
    }
  }

  private json(res: http.ServerResponse, status: number, data: unknown): void {
    const body = JSON.stringify(data);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        if (size - c.length <= MAX_BODY) reject(new HttpError(413, `request body larger than ${MAX_BODY} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY) return;
      let v: unknown;
      try {
        v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reject(new HttpError(400, 'the request body is not valid JSON'));
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) return reject(new HttpError(400, 'the request body must be a JSON object'));
      resolve(v as Record<string, unknown>);
    });
  });
}
