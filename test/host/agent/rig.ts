// The agent as tests run it: a temporary archive, the real firmware in the emulator behind a
// DeviceClient (the person at the device is the test: it reads the screen and presses keys),
// real HTTP and a raw WebSocket client on 127.0.0.1.

import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentOptions, AgentServer, EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX } from '../../../host/src/agent/server';
import { encodeFrame, FrameReader, newMask, OP } from '../../../host/src/agent/websocket';
import { DeviceClient } from '../../../host/src/device/client';
import { SqliteArchive } from '../../../host/src/services/archive';
import { closeAll, DeviceRig, deviceRig } from '../../helpers/device-rig';

export interface AgentRig {
  agent: AgentServer;
  archive: SqliteArchive;
  rig: DeviceRig;
  client: DeviceClient;
  close(): Promise<void>;
}

export async function agentRig(opts: Partial<AgentOptions> = {}): Promise<AgentRig> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-'));
  const archive = SqliteArchive.open(join(dir, 'archive.db'));
  // on a loaded machine the link's first SYNC + HELLO can be reset by the booting firmware: try again
  let rig: DeviceRig | undefined;
  for (let i = 0; !rig; i++) {
    try {
      rig = await deviceRig();
    } catch (e) {
      if (i === 2) throw e;
    }
  }
  const client = new DeviceClient(rig.host);
  const agent = new AgentServer({ archive, device: client, port: 0, pairingTimeoutSeconds: 30, deviceStatus: () => ({ state: 'connected', firmware: 'emulated', card: true }), ...opts });
  await agent.start();
  return {
    agent,
    archive,
    rig,
    client,
    async close() {
      await agent.stop();
      closeAll(); // this rig, and any that failed to connect above
      archive.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** One HTTP request with exactly the headers given (Host included: no defaults added by node for it). */
export function request(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // an explicit length: node frames a DELETE or OPTIONS body by nothing otherwise
    const sized = body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: sized, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = {};
        try {
          json = text ? JSON.parse(text) : {};
        } catch (_e) {
          json = {};
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Headers of a page on `origin` talking to the agent (fetch with JSON). */
export function fromPage(port: number, origin: string, extra: Record<string, string> = {}): Record<string, string> {
  return { Host: `127.0.0.1:${port}`, Origin: origin, 'Content-Type': 'application/json', ...extra };
}

export interface WsClient {
  status: number;
  protocol?: string;
  /** Messages received so far (JSON). */
  messages: Record<string, unknown>[];
  /** The HTTP answer when the upgrade was refused. */
  refusal?: string;
  next(pred: (m: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  close(): void;
  closed: Promise<void>;
}

/** A WebSocket client as raw as the server: handshake with the given headers, frames by hand. */
export function wsConnect(port: number, headers: Record<string, string>): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/v1/events',
      setHost: false,
      headers: { Host: `127.0.0.1:${port}`, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, messages: [], refusal: Buffer.concat(chunks).toString('utf8'), next: () => Promise.reject(new Error('refused')), close: () => {}, closed: Promise.resolve() }));
    });
    req.on('upgrade', (res, socket, head) => {
      const reader = new FrameReader(false, 1 << 20);
      const messages: Record<string, unknown>[] = [];
      const waiters: (() => void)[] = [];
      let onClosed: () => void = () => {};
      const closed = new Promise<void>((r) => (onClosed = r));
      const feed = (b: Buffer): void => {
        for (const f of reader.push(b)) {
          if (f.opcode === OP.text) messages.push(JSON.parse(f.payload.toString('utf8')));
          if (f.opcode === OP.close) socket.end();
        }
        for (const w of waiters.splice(0)) w();
      };
      socket.on('data', feed);
      socket.on('close', () => onClosed());
      if (head.length) feed(head);
      const c: WsClient = {
        status: res.statusCode ?? 0,
        protocol: res.headers['sec-websocket-protocol'] as string | undefined,
        messages,
        closed,
        next: (pred, ms = 20000) =>
          new Promise((ok, fail) => {
            const t0 = Date.now();
            const look = (): void => {
              const m = messages.find(pred);
              if (m) return ok(m);
              if (Date.now() - t0 > ms) return fail(new Error(`no such message; got ${JSON.stringify(messages)}`));
              waiters.push(look);
              setTimeout(look, 100).unref();
            };
            look();
          }),
        close: () => socket.end(encodeFrame(OP.close, Buffer.from([0x03, 0xe8]), newMask())),
      };
      resolve(c);
    });
    req.end();
  });
}

/** The subprotocols a paired page offers for /v1/events. */
export const eventProtocols = (token: string): string => `${EVENTS_PROTOCOL}, ${TOKEN_PROTOCOL_PREFIX}${token}`;

/** What the device shows for the running operation, screen by screen to its end; rows joined (they wrap at the display's width). */
export async function readStatement(rig: DeviceRig): Promise<string> {
  await rig.waitFor(/OK:|DOWN: read on/);
  const seen = [rig.screen()];
  for (let i = 0; i < 30 && !/-- end --/.test(rig.screen()); i++) {
    await rig.press('DOWN');
    seen.push(rig.screen());
  }
  // rows joined, and a word the device cut at the row's edge (its continuation mark, 0x7F) read whole
  return seen.join('\n').replace(/\u007f?\n/g, '');
}

/**
 * The person at the device presses `key` until `ended()` says the request is over: on a loaded
 * machine a press can be lost (the firmware scans the keypad in real time, with a debounce).
 * A second press lands on the result screen, where OK and CANCEL only go back to idle.
 */
export async function pressUntil(rig: DeviceRig, key: string, ended: () => Promise<boolean>, tries = 8): Promise<void> {
  for (let i = 0; i < tries; i++) {
    await rig.press(key);
    // the answer crosses the link and the agent: give it a moment before pressing again
    for (let t0 = Date.now(); Date.now() - t0 < 1500; await new Promise((r) => setTimeout(r, 50))) if (await ended()) return;
  }
  throw new Error(`${key} pressed ${tries} times and the request has not ended; the device shows:\n${rig.screen()}`);
}
