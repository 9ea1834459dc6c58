#!/usr/bin/env node
// `semper <command> [options]`: the one command line of SEMPER for a trusted device. It only
// dispatches: every command lives in its own module (host/src/cli/*.ts, board/*/cli.ts,
// tools/flash/flash.mjs), which parses its own options and has its own --help. Modules are
// loaded lazily, so `semper archive` never loads serialport and `semper --help` loads nothing.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** What a host CLI module exports (doctor.ts, archive.ts, bank.ts). */
export interface CliModule {
  HELP: string;
  run(argv: string[], io?: { out?: (s: string) => void; err?: (s: string) => void }): Promise<number>;
}

interface Command {
  summary: string;
  /** Runs the command; resolves to its exit status. */
  run(argv: string[]): Promise<number>;
}

/** The repository root, from dist/host/src/cli (built) or host/src/cli (ts-node, jest). */
const UP3 = join(__dirname, '..', '..', '..');
const ROOT = basename(UP3) === 'dist' ? join(UP3, '..') : UP3;

/**
 * A board CLI (emulator, card). It reports its own errors and calls process.exit on them; once
 * its main() returns, a one-shot command (card) is done and a server (emulator) keeps running
 * until Ctrl-C.
 */
async function boardCli(load: () => Promise<{ main(argv: string[]): unknown }>, argv: string[]): Promise<number> {
  const m = await load();
  await m.main(argv);
  return 0;
}

const COMMANDS: Record<string, Command> = {
  doctor: {
    summary: 'find the device and fix what keeps the host agent from it (serial port, permissions, udev, ModemManager, link)',
    run: async (argv) => (await import('./doctor')).run(argv),
  },
  device: {
    summary: 'the device: what it is (info), the purse balance (balance), the card\u2019s log (log)',
    run: async (argv) => (await import('./device')).run(argv),
  },
  purse: {
    summary: 'the purse on the card: load value from a bank account onto it (load)',
    run: async (argv) => (await import('./purse')).run(argv),
  },
  cert: {
    summary: 'your card\u2019s certificate: register the card with the CA using the RA\u2019s code (register), list what the archive keeps (show)',
    run: async (argv) => (await import('./cert')).run(argv),
  },
  agent: {
    summary: 'the buyer\u2019s agent: the local API merchant pages use to pair (OK on the device) and to start purchases',
    run: async (argv) => (await import('./agent')).run(argv),
  },
  archive: {
    summary: 'browse, export (CSV, evidence pack) and verify the transaction archive',
    run: async (argv) => (await import('./archive')).run(argv),
  },
  bank: {
    summary: 'the bank: accounts, deposits of card payment tokens, account payments, purse loads',
    run: async (argv) => (await import('./bank')).run(argv),
  },
  ca: {
    summary: 'the certification authority: certificates for merchants, banks, third parties and cards; revocation; registration codes',
    run: async (argv) => (await import('./ca')).run(argv),
  },
  ttp: {
    summary: 'the fair-exchange third party: resolves and aborts exchanges that went wrong, signed and final',
    run: async (argv) => (await import('./ttp')).run(argv),
  },
  arbiter: {
    summary: 'judge a dispute: verify an exchange\u2019s evidence bundle and say who is owed what, and why',
    run: async (argv) => (await import('./arbiter')).run(argv),
  },
  emulator: {
    summary: 'the firmware in the board emulator: USB link on TCP, a pty or stdio; the device in a web page',
    run: (argv) => boardCli(() => import('../../../board/emulator/cli'), argv),
  },
  card: {
    summary: 'make (new) and inspect (show) emulated smart cards',
    run: (argv) => boardCli(() => import('../../../board/card/cli'), argv),
  },
  flash: {
    summary: 'write the firmware to a board\u2019s flash with the espruino CLI, verify its CRC, reboot (device/FLASHING.md)',
    run: async (argv) => {
      const script = join(ROOT, 'tools', 'flash', 'flash.mjs');
      if (!existsSync(script)) {
        process.stderr.write(`semper flash: ${script} is missing: run semper from the source tree (npm run flash -- --help)\n`);
        return 3;
      }
      const r = spawnSync(process.execPath, [script, ...argv], { stdio: 'inherit' });
      if (r.error) {
        process.stderr.write(`semper flash: ${r.error.message}\n`);
        return 3;
      }
      return r.status ?? 1;
    },
  },
};

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export const HELP = `semper — SEMPER for a trusted device: host agent, board emulator and tools

usage: semper <command> [options]
       semper <command> --help       a command's own options
       semper help <command>         the same

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

options:
  --help, -h     this text
  --version      the version of semper

From the source tree: npm run semper -- <command> [options] (builds first).
Exit status: the command's own; 2 for an unknown command or bad options here.`;

/** Edit distance between two short words (commands), for "did you mean". */
export function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** The command the user most probably meant, or undefined if none is close. */
export function suggest(word: string, names: string[] = Object.keys(COMMANDS)): string | undefined {
  const w = word.toLowerCase();
  const prefixed = names.filter((n) => n.startsWith(w) || w.startsWith(n));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const dist = distance(w, n);
    if (dist < bestD) [best, bestD] = [n, dist];
  }
  return bestD <= Math.max(2, Math.floor(w.length / 3)) ? best : undefined;
}

function unknown(word: string, err: (s: string) => void): number {
  const s = suggest(word);
  err(`semper: unknown command '${word}'.${s ? ` Did you mean 'semper ${s}'?` : ''}\nCommands: ${Object.keys(COMMANDS).join(', ')} (semper --help)\n`);
  return 2;
}

/** Entry point: argv without node and script. Resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const out = (s: string): void => void process.stdout.write(s);
  const err = (s: string): void => void process.stderr.write(s);
  const [first, ...rest] = argv;
  if (first === undefined) {
    err(HELP + '\n');
    return 2;
  }
  if (first === '--help' || first === '-h') {
    out(HELP + '\n');
    return 0;
  }
  if (first === '--version' || first === '-V') {
    out(`semper ${version()}\n`);
    return 0;
  }
  if (first === 'help') {
    if (rest[0] === undefined) {
      out(HELP + '\n');
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, rest[0])) return unknown(rest[0], err);
    return COMMANDS[rest[0]].run(['--help']);
  }
  if (first.startsWith('-')) {
    err(`semper: unknown option ${first}: options go after the command (semper <command> ${first}); see semper --help\n`);
    return 2;
  }
  if (!Object.hasOwn(COMMANDS, first)) return unknown(first, err);
  return COMMANDS[first].run(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`semper: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
