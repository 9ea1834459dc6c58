// `semper archive`: browse the transaction archive like a bank statement, export it for
// accounting (CSV) or for an arbiter (evidence pack), and verify that nobody has changed it.
// The archive is host/src/services/archive.ts; its formats are in ../services/ARCHIVE.md.

import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeSign1 } from '../../../shared/src/cose';
import { ArchivedRecord, ArchiveQuery, SqliteArchive } from '../services/archive';
import { ArchiveError, RECORD_KINDS, RecordKind } from '../services/archive-chain';
import { exportEvidencePack, toCsv } from '../services/archive-export';
import { formatMinorUnits } from '../services/money';
import { StoreError } from '../services/sqlite';

export const HELP = `semper archive — browse, export and verify the transaction archive

usage:
  semper archive list [filters] [--after SEQ] [--limit N]   records, oldest first
  semper archive show SEQ                                   one record in full
  semper archive export --csv FILE [filters]                CSV for accounting
  semper archive export --pack FILE [filters]               evidence pack for an arbiter
  semper archive verify [--trusted-key HEX]... [--require-checkpoint]
                                                            recompute the hash chain

filters:
  --deal ID          records of one deal
  --kind KIND        ${RECORD_KINDS.join(', ')}
  --from DATE        from this time on (YYYY-MM-DD = midnight UTC, or ISO 8601 with time)
  --to DATE          before this time (a bare YYYY-MM-DD includes that whole day, UTC)

options (every command):
  --db FILE          the archive database (default $SEMPER_HOME/archive.db,
                     SEMPER_HOME defaults to ~/.semper)
  --help             this text

verify checks every record's hash link and every checkpoint; --trusted-key (the archive
key's public key, 65-byte SEC1 point in hex, repeatable) also checks the checkpoints'
signatures, which detects a rewrite of the whole file.

exit status: 0 ok; 1 verify found tampering (the message names the first bad record);
2 bad command or options; 3 the archive cannot be opened (missing, not an archive, busy,
newer format); 4 nothing matched the filters (export).`;

export interface ArchiveCliIo {
  out?: (s: string) => void;
  err?: (s: string) => void;
  env?: NodeJS.ProcessEnv;
}

const EXIT = { ok: 0, tampered: 1, usage: 2, cannotOpen: 3, nothing: 4 } as const;

class UsageError extends Error {}

const OPTIONS = {
  db: { type: 'string' },
  deal: { type: 'string' },
  kind: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  after: { type: 'string' },
  limit: { type: 'string' },
  csv: { type: 'string' },
  pack: { type: 'string' },
  'trusted-key': { type: 'string', multiple: true },
  'require-checkpoint': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Which options each command takes (besides --db and --help). */
const ALLOWED: Record<string, readonly (keyof typeof OPTIONS)[]> = {
  list: ['deal', 'kind', 'from', 'to', 'after', 'limit'],
  show: [],
  export: ['csv', 'pack', 'deal', 'kind', 'from', 'to'],
  verify: ['trusted-key', 'require-checkpoint'],
};

/** A date option → ms since the epoch. A bare day as --to means the end of that day. */
export function parseDate(s: string, what: string, endOfDay = false): number {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(s);
  const t = Date.parse(day ? `${s}T00:00:00Z` : s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(t)) throw new UsageError(`--${what} ${s}: write a date as YYYY-MM-DD or an ISO 8601 time such as 2026-01-31T12:00:00Z`);
  return day && endOfDay ? t + 86_400_000 : t;
}

function parseCount(s: string | undefined, what: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d{1,9}$/.test(s)) throw new UsageError(`--${what} ${s}: give a whole number`);
  return Number(s);
}

function filters(v: Values): ArchiveQuery {
  const q: ArchiveQuery = {};
  if (v.deal !== undefined) q.deal = v.deal;
  if (v.kind !== undefined) {
    if (!RECORD_KINDS.includes(v.kind as RecordKind)) throw new UsageError(`--kind ${v.kind}: use one of ${RECORD_KINDS.join(', ')}`);
    q.kind = v.kind as RecordKind;
  }
  if (v.from !== undefined) q.from = parseDate(v.from, 'from');
  if (v.to !== undefined) q.to = parseDate(v.to, 'to', true);
  return q;
}

/** $SEMPER_HOME/archive.db (SEMPER_HOME defaults to ~/.semper, created with mode 0700). */
export function defaultDbPath(env: NodeJS.ProcessEnv): string {
  const home = env.SEMPER_HOME || join(homedir(), '.semper');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  return join(home, 'archive.db');
}

function money(r: ArchivedRecord): string {
  return r.amount !== undefined && r.currency !== undefined ? `${formatMinorUnits(r.amount, r.currency)} ${r.currency}` : '';
}

function listLine(r: ArchivedRecord): string {
  const cols = [String(r.seq).padStart(6), new Date(r.time).toISOString().slice(0, 19).replace('T', ' '), r.kind.padEnd(17), money(r).padStart(16), r.counterparty ?? '', r.label ?? ''];
  if (r.deal) cols.push(`deal ${r.deal}`);
  return cols.join('  ').trimEnd();
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function showRecord(r: ArchivedRecord): string {
  const lines = [
    `record     ${r.seq}`,
    `time       ${new Date(r.time).toISOString()}`,
    `kind       ${r.kind}`,
  ];
  const add = (k: string, v: string | undefined) => v !== undefined && v !== '' && lines.push(`${k.padEnd(10)} ${v}`);
  add('deal', r.deal);
  add('transfer', r.transfer);
  add('party', r.counterparty);
  add('others', r.parties?.join(', '));
  add('label', r.label);
  add('amount', money(r));
  add('note', r.note);
  if (r.evidence) {
    let what = 'bytes';
    try {
      const s = decodeSign1(r.evidence);
      what = `bytes, COSE_Sign1 (ES256${s.kid ? `, kid ${hex(s.kid)}` : ''}, payload ${s.payload.length} bytes)`;
    } catch (_e) {
      // not a COSE_Sign1: shown as bytes
    }
    add('evidence', `${r.evidence.length} ${what}`);
    add('', hex(r.evidence.subarray(0, 64)) + (r.evidence.length > 64 ? '…' : ''));
  }
  add('prev', hex(r.prev));
  add('hash', hex(r.hash));
  return lines.join('\n') + '\n';
}

function trustedKeys(v: Values): Uint8Array[] | undefined {
  const keys = v['trusted-key'];
  if (!keys) return undefined;
  return keys.map((k) => {
    if (!/^04[0-9a-fA-F]{128}$/.test(k)) throw new UsageError(`--trusted-key: give the archive key's public key as 130 hex digits starting with 04`);
    return new Uint8Array(Buffer.from(k, 'hex'));
  });
}

async function command(cmd: string, pos: string[], v: Values, archive: SqliteArchive, out: (s: string) => void): Promise<number> {
  switch (cmd) {
    case 'list': {
      const q = filters(v);
      q.limit = parseCount(v.limit, 'limit') ?? 100;
      const after = parseCount(v.after, 'after');
      if (after !== undefined) q.afterSeq = after;
      const records = await archive.list(q);
      for (const r of records) out(listLine(r) + '\n');
      if (records.length === q.limit) out(`… more: semper archive list --after ${records[records.length - 1].seq}\n`);
      if (records.length === 0) out('no records\n');
      return EXIT.ok;
    }
    case 'show': {
      const seq = parseCount(pos[0], 'seq');
      if (seq === undefined || pos.length !== 1) throw new UsageError('show takes one record number: semper archive show 42');
      out(showRecord(await archive.get(seq)));
      return EXIT.ok;
    }
    case 'export': {
      if ((v.csv === undefined) === (v.pack === undefined)) throw new UsageError('export needs exactly one of --csv FILE or --pack FILE');
      const q = filters(v);
      if (v.csv !== undefined) {
        const records = await archive.list(q);
        if (records.length === 0) return nothing(out);
        writeFileSync(v.csv, toCsv(records), { mode: 0o600 });
        out(`${records.length} records written to ${v.csv}\n`);
      } else {
        let pack: Uint8Array;
        try {
          pack = await exportEvidencePack(archive, q);
        } catch (e) {
          if (e instanceof ArchiveError && e.code === 'BAD_INPUT') return nothing(out);
          throw e;
        }
        writeFileSync(v.pack!, pack, { mode: 0o600 });
        out(`evidence pack written to ${v.pack} (${pack.length} bytes)\n`);
      }
      return EXIT.ok;
    }
    case 'verify': {
      const keys = trustedKeys(v);
      const opts = { ...(keys ? { trustedKeys: keys } : {}), requireCheckpoint: v['require-checkpoint'] ?? false };
      const r = await archive.verify(opts);
      out(`OK: ${r.records} records, head ${r.head.seq} ${hex(r.head.hash)}\n`);
      out(
        r.checkpoints === 0
          ? 'no signed checkpoints: a rewrite of the whole file would not be detected\n'
          : r.trusted
            ? `${r.checkpoints} checkpoints, signatures checked; records up to ${r.anchoredSeq} are anchored\n`
            : `${r.checkpoints} checkpoints, signatures NOT checked: pass --trusted-key with the archive key\n`,
      );
      return EXIT.ok;
    }
  }
  throw new UsageError(`unknown command ${cmd}`);
}

function nothing(out: (s: string) => void): number {
  out('no record matches the filters: nothing written\n');
  return EXIT.nothing;
}

/** Entry point: argv after `archive`; returns the exit status. */
export async function run(argv: string[], io: ArchiveCliIo = {}): Promise<number> {
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const env = io.env ?? process.env;
  let archive: SqliteArchive | undefined;
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values: v, positionals } = parsed;
    const [cmd, ...pos] = positionals;
    if (v.help || cmd === undefined || cmd === 'help') {
      out(HELP + '\n');
      return cmd === undefined && !v.help ? EXIT.usage : EXIT.ok;
    }
    const allowed = ALLOWED[cmd];
    if (!allowed) throw new UsageError(`unknown command ${cmd}: use list, show, export or verify`);
    for (const k of Object.keys(v)) if (k !== 'db' && !allowed.includes(k as keyof typeof OPTIONS)) throw new UsageError(`${cmd} does not take --${k}`);
    if (cmd !== 'show' && pos.length) throw new UsageError(`${cmd} takes no argument ${pos[0]}`);
    const db = v.db ?? defaultDbPath(env);
    archive = SqliteArchive.open(db, { mustExist: true, busyTimeoutMs: 2000 });
    return await command(cmd, pos, v, archive, out);
  } catch (e) {
    return report(e, err);
  } finally {
    archive?.close();
  }
}

function report(e: unknown, err: (s: string) => void): number {
  if (e instanceof UsageError) {
    err(`semper archive: ${e.message} (see semper archive --help)\n`);
    return EXIT.usage;
  }
  if (e instanceof StoreError) {
    const fix: Record<StoreError['code'], string> = {
      NOT_FOUND: 'the host agent creates it on first use; or name another file with --db FILE',
      BUSY: 'another semper process is writing; try again in a moment',
      UNSUPPORTED: 'this archive was written by a newer semper: upgrade semper',
      NOT_A_DATABASE: 'this file is not a SEMPER archive, or it is damaged: check --db, restore a backup',
      IO: 'the file could not be read or written (the disk, its permissions, or damage inside the file): keep a copy of it as it is, restore a backup',
      CLOSED: 'internal error: please report it',
    };
    err(`semper archive: ${e.message}: ${fix[e.code]}\n`);
    return EXIT.cannotOpen;
  }
  if (e instanceof ArchiveError) {
    if (e.code === 'NOT_FOUND') {
      err(`semper archive: ${e.message}: see semper archive list for the record numbers\n`);
      return EXIT.usage;
    }
    if (e.code === 'BAD_INPUT') {
      err(`semper archive: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e.code === 'NO_CHECKPOINT') {
      err(`semper archive: ${e.message}: the archive key has not signed a checkpoint yet; run without --require-checkpoint to check the chain alone\n`);
      return EXIT.tampered;
    }
    err(
      `semper archive: ${e.code}${e.seq !== undefined ? ` at record ${e.seq}` : ''}: ${e.message}\n` +
        'The archive has been changed outside semper (or damaged). Keep a copy of the file as it is, ' +
        'restore a backup, and compare with your peers\u2019 receipts.\n',
    );
    return EXIT.tampered;
  }
  throw e;
}
