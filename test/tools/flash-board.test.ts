// npm run flash with the REAL espruino CLI (EspruinoTools) against a fake board on TCP that
// speaks just enough of Espruino's console: a line REPL with echo, Ctrl-C, the \x10 "no echo"
// prefix, ESC [ n d line numbers, print(), process.env, E.CRC32, atob and require("Storage"). It proves that the
// commands flash.mjs builds do what it expects of EspruinoTools: the --storage upload arrives
// byte for byte, the CRC comes back, load() is sent.
//
// EspruinoTools is not a dependency (see device/FLASHING.md): this runs only when
// ESPRUINO_CLI names its bin/espruino-cli.js, e.g.
//   npm install --prefix /tmp/esp espruino@0.1.67
//   ESPRUINO_CLI=/tmp/esp/node_modules/espruino/bin/espruino-cli.js npx jest test/tools/flash-board
// (the flash.mjs orchestration itself is covered with a fake CLI in flash.test.ts).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { crc32 } from 'node:zlib';
import { pretokenise } from '../../tools/pretokenise.cjs';

const cli = process.env.ESPRUINO_CLI;
const maybe = cli && existsSync(cli) ? describe : describe.skip;
const root = join(__dirname, '..', '..');
const DLE = String.fromCharCode(0x10);
const LINE_NUMBER = new RegExp(`${String.fromCharCode(0x1b)}\\[\\d*d`, 'g');

/** A pretend Espruino: a REPL on one TCP connection at a time, Storage kept across connections. */
class FakeBoard {
  storage = new Map<string, string>();
  console = true; // false once "the firmware" has moved the console off the line
  loads = 0;
  received = '';
  server: Server = createServer((s) => this.serve(s));

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as { port: number }).port)));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(sock: Socket): void {
    let line = '';
    let echo = true;
    const out = (s: string): void => void sock.write(Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1'));
    const Storage = {
      write: (name: string, data: string, offset?: number, size?: number): boolean => {
        if (offset === undefined || offset === 0) this.storage.set(name, size === undefined ? data : '\xff'.repeat(size));
        if (offset === undefined) return true;
        const f = this.storage.get(name) ?? '';
        this.storage.set(name, f.slice(0, offset) + data + f.slice(offset + data.length));
        return true;
      },
      read: (name: string): string | undefined => this.storage.get(name),
      erase: (name: string): void => void this.storage.delete(name),
      getFree: (): number => 200_000,
      list: (): string[] => [...this.storage.keys()],
    };
    const ctx = {
      print: (...a: unknown[]): void => out(a.map(String).join(' ') + '\n'),
      console: { log: (...a: unknown[]): void => out(a.map(String).join(' ') + '\n') },
      process: { env: { VERSION: '2v29', BOARD: 'PICO_R1_3', MODULES: 'Storage' } },
      E: { CRC32: (s: string): number => crc32(Buffer.from(s, 'latin1')) >>> 0 },
      atob: (s: string): string => Buffer.from(s, 'base64').toString('latin1'),
      btoa: (s: string): string => Buffer.from(s, 'latin1').toString('base64'),
      require: (m: string): unknown => {
        if (m === 'Storage') return Storage;
        throw new Error(`Module ${m} not found`);
      },
      reset: (): void => {},
      setTimeout: (f: () => void, ms: number): number => (setTimeout(f, ms), 1),
      echo: (on: boolean): void => void (echo = on),
      load: (): void => {
        this.loads++;
        this.console = false; // the firmware starts and takes the console off the line
      },
    };
    out('\n>');
    sock.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      this.received += text;
      if (!this.console) return; // the line carries the link protocol now: no REPL
      for (const ch of text) {
        if (ch === '\x03') {
          line = '';
          out('\n>');
        } else if (ch === '\r') continue;
        else if (ch === '\n') {
          let src = line;
          const quiet = src.startsWith(DLE);
          src = src.split(DLE).join('').replace(LINE_NUMBER, ''); // no echo; ESC [ n d = line number for the debugger
          if (echo && !quiet) out(src + '\n');
          line = '';
          if (!src.trim()) {
            out('=undefined\n>');
            continue;
          }
          try {
            const v = runInNewContext(src, ctx);
            out(`=${JSON.stringify(v) ?? 'undefined'}\n>`);
          } catch (e) {
            out(`Uncaught ${(e as Error).message}\n>`);
          }
          if (!this.console) return;
        } else line += ch;
      }
    });
  }
}

function run(argv: string[]): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [join(root, 'tools', 'flash', 'flash.mjs'), ...argv], { env: { ...process.env, ESPRUINO_CLI: cli } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (status) => resolve({ status, out, err }));
  });
}

maybe('npm run flash with EspruinoTools against a fake board on TCP', () => {
  let dir = '';
  let board: FakeBoard;
  let port = 0;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'semper-flash-board-'));
    board = new FakeBoard();
    port = await board.listen();
  });
  afterAll(async () => {
    await board.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uploads .bootcde byte for byte, verifies the CRC, starts it; then the console is locked', async () => {
    // bytes that survive only an 8-bit clean path, more than two chunks
    const bundle = join(dir, 'firmware.js');
    const text = `(function(){var s=${JSON.stringify('SEMPER '.repeat(150))};print(s.length);})();\n`;
    writeFileSync(bundle, text);
    const r = await run(['--port', `tcp://127.0.0.1:${port}`, '--bundle', bundle, '--timeout', '60']);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    // .bootcde is the bundle pretokenised: token bytes of 128 and more, which need the 8-bit path
    const boot = pretokenise(text);
    expect(r.out).toContain(`stored ${boot.length} bytes`);
    expect(board.storage.get('.bootcde')).toBe(boot);
    await new Promise((r) => setTimeout(r, 1500)); // load() is deferred by a second
    expect(board.loads).toBe(1);
    expect(board.received).toContain('require("Storage").write(".bootcde",atob(');

    // a second run meets the "firmware": no console, so it explains the BTN1 recovery
    const again = await run(['--port', `tcp://127.0.0.1:${port}`, '--bundle', bundle, '--timeout', '60']);
    expect(again.status).toBe(1);
    expect(again.err).toContain('press BTN1 straight away');
  }, 180_000);
});
