// protocol/SPEC.md against the code. The specification is parsed — its CDDL, its tables
// and every hex example — and checked against the message catalogue, the schema checker,
// both CBOR codecs, the frame encoder and reader, and the link's timers, so that the
// document and the implementation cannot drift apart unnoticed.
//
// The CDDL parser below reads only the regular subset SPEC.md uses (one member per line,
// `? key => type, ; name: comment`); anything else in a rule is a test failure, which keeps
// the spec in that shape.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { CborMap, CborValue, decode, encode } from '../../protocol/src/cbor';
import { cobsDecode, cobsEncode } from '../../protocol/src/cobs';
import { cborErrorToMessageError, decodeMessage, encodeMessage } from '../../protocol/src/codec';
import { crc32 } from '../../protocol/src/crc32';
import { CborError, CborErrorCode } from '../../protocol/src/errors';
import { encodeFrame, Frame, FRAME_HEADER, FRAME_TRAILER, FrameKind, FrameKindValue, FrameReader, LINK_VERSION, MAX_ENCODED_FRAME, MAX_PAYLOAD } from '../../protocol/src/frame';
import { Link } from '../../protocol/src/link';
import { DeviceState, Direction, ErrorCode, LINK_LIMITS, msgTypeName, MsgType, NESTED_LIMITS, PROTOCOL_VERSION, REQUEST_SCHEMA, RESPONSE_SCHEMA, STATEMENT_SCHEMA, StatementKind } from '../../protocol/src/messages';
import { decodeBody, encodeBody, FieldSpec, MAX_UINT, parseSchema } from '../../protocol/src/schema';
import { decodeHostMessage, encodeHostMessage } from '../../host/src/link/codec';
import { decodeCanonical, encodeCanonical, fromByteString, fromModel, toModel, utf8Length } from '../../shared/src/cbor';

const ROOT = join(__dirname, '..', '..');
const SPEC = readFileSync(join(ROOT, 'protocol', 'SPEC.md'), 'utf8');
const LINES = SPEC.split('\n');

// ------------------------------------------------------------------ markdown

interface Block {
  info: string;
  body: string[];
  /** 1-based line of the opening fence. */
  line: number;
}

function fencedBlocks(): Block[] {
  const out: Block[] = [];
  for (let i = 0; i < LINES.length; i++) {
    const m = /^```(\S*)\s*$/.exec(LINES[i]);
    if (!m) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < LINES.length && !/^```\s*$/.test(LINES[i]); i++) body.push(LINES[i]);
    if (i >= LINES.length) throw new Error(`SPEC.md:${start + 1}: unterminated code block`);
    out.push({ info: m[1], body, line: start + 1 });
  }
  return out;
}

const BLOCKS = fencedBlocks();

/** Rows (cells, trimmed, header and separator skipped) of the table after `<!-- table: name -->`. */
function table(name: string): string[][] {
  const at = LINES.findIndex((l) => l.trim() === `<!-- table: ${name} -->`);
  if (at < 0) throw new Error(`SPEC.md has no table marked "${name}"`);
  const rows: string[][] = [];
  for (let i = at + 1; i < LINES.length && LINES[i].startsWith('|'); i++) {
    const cells = LINES[i].trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
    rows.push(cells);
  }
  if (rows.length < 3) throw new Error(`table "${name}" has no rows`);
  return rows.slice(2);
}

const unquote = (s: string): string => s.replace(/`/g, '').trim();

// ------------------------------------------------------------------ CDDL subset

interface Rule {
  name: string;
  text: string[];
  line: number;
}

function cddlRules(): Map<string, Rule> {
  const rules = new Map<string, Rule>();
  for (const b of BLOCKS.filter((x) => x.info === 'cddl')) {
    let cur: Rule | null = null;
    b.body.forEach((l, i) => {
      const m = /^([A-Za-z][\w-]*)\s*=\s*(.*)$/.exec(l);
      if (m) {
        if (rules.has(m[1])) throw new Error(`SPEC.md:${b.line + i + 1}: CDDL rule ${m[1]} defined twice`);
        cur = { name: m[1], text: [m[2]], line: b.line + i + 1 };
        rules.set(m[1], cur);
      } else if (l.trim() !== '') {
        if (!cur || !/^[\s}\]]/.test(l)) throw new Error(`SPEC.md:${b.line + i + 1}: CDDL line outside a rule: ${l}`);
        (cur as Rule).text.push(l);
      }
    });
  }
  return rules;
}

const RULES = cddlRules();

function rule(name: string): Rule {
  const r = RULES.get(name);
  if (!r) throw new Error(`SPEC.md has no CDDL rule "${name}"`);
  return r;
}

/** A type as the schema checker sees it: schema type letter and bounds. */
interface TypeDesc {
  type: string;
  min: number;
  max: number;
  regexp?: string;
}

/** One value of a single-line rule such as `safe-uint = 0..9007199254740991`. */
function ruleValue(name: string): string {
  const r = rule(name);
  if (r.text.length !== 1) throw new Error(`rule ${name} must be one line`);
  return r.text[0].replace(/;.*$/, '').trim();
}

function cddlType(t: string): TypeDesc {
  const s = t.replace(/\s+/g, ' ').trim();
  let m: RegExpExecArray | null;
  if ((m = /^(\d+)\.\.(\d+)$/.exec(s))) return { type: 'u', min: Number(m[1]), max: Number(m[2]) };
  if (s === 'safe-uint') {
    const v = /^(\d+)\.\.(\d+)$/.exec(ruleValue('safe-uint'));
    if (!v) throw new Error('safe-uint must be a range');
    return { type: 'u', min: Number(v[1]), max: Number(v[2]) };
  }
  if ((m = /^uint \.le (\d+)$/.exec(s))) return { type: 'u', min: 0, max: Number(m[1]) };
  if (s === 'bool') return { type: 'b', min: 0, max: 0 };
  if (s === 'money') return { type: 'm', min: 0, max: 0 };
  if ((m = /^(tstr|bstr) \.size \((\d+)\.\.(\d+)\)$/.exec(s))) return { type: m[1] === 'tstr' ? 't' : 'y', min: Number(m[2]), max: Number(m[3]) };
  if ((m = /^(tstr|bstr) \.size (\d+)$/.exec(s))) return { type: m[1] === 'tstr' ? 't' : 'y', min: Number(m[2]), max: Number(m[2]) };
  if ((m = /^tstr \.regexp "([^"]*)"$/.exec(s))) return { type: 'r', min: 0, max: 0, regexp: m[1] };
  if ((m = /^\[ ?(\d+)\*(\d+) (uint8|log-entry) ?\]$/.exec(s))) return { type: m[3] === 'uint8' ? 'U' : 'L', min: Number(m[1]), max: Number(m[2]) };
  throw new Error(`CDDL type outside the subset this test reads: "${t}"`);
}

interface Member {
  key: number;
  optional: boolean;
  name: string;
  type: TypeDesc;
}

/** The members of a map rule `name = { 1 => type, ; name: … }`. */
function mapRule(name: string): Member[] {
  const r = rule(name);
  const text = r.text.join('\n');
  const open = text.indexOf('{');
  const close = text.lastIndexOf('}');
  if (open !== 0 || close < 0 || text.slice(close + 1).replace(/;.*$/gm, '').trim() !== '') throw new Error(`rule ${name} (SPEC.md:${r.line}) is not a map`);
  const out: Member[] = [];
  for (const raw of text.slice(open + 1, close).split('\n')) {
    const l = raw.trim();
    if (l === '') continue;
    const m = /^(\?\s*)?(\d+)\s*=>\s*(.*?)\s*,\s*;\s*([A-Za-z]\w*)\s*:/.exec(l);
    if (!m) throw new Error(`rule ${name}: member not in the form "? n => type, ; name: comment": ${l}`);
    out.push({ key: Number(m[2]), optional: !!m[1], name: m[4], type: cddlType(m[3]) });
  }
  return out;
}

/** The elements of an array rule `name = [ field: type, ; comment ]`. */
function arrayRule(name: string): { name: string; type: TypeDesc }[] {
  const r = rule(name);
  const text = r.text.join('\n');
  const open = text.indexOf('[');
  const close = text.lastIndexOf(']');
  if (open !== 0 || close < 0) throw new Error(`rule ${name} is not an array`);
  const out: { name: string; type: TypeDesc }[] = [];
  for (const raw of text.slice(open + 1, close).split('\n')) {
    const l = raw.replace(/;.*$/, '').trim();
    if (l === '') continue;
    const m = /^([A-Za-z]\w*)\s*:\s*(.*?)\s*,?$/.exec(l);
    if (!m) throw new Error(`rule ${name}: element not in the form "name: type,": ${l}`);
    out.push({ name: m[1], type: cddlType(m[2]) });
  }
  return out;
}

/** What a schema field should look like in CDDL. */
function schemaDesc(f: FieldSpec): TypeDesc {
  if (f.type === 'b' || f.type === 'm') return { type: f.type, min: 0, max: 0 };
  return { type: f.type, min: f.min, max: f.max };
}

const kebab = (s: string): string => s.toLowerCase().replace(/_/g, '-');

function ruleNameFor(type: number, dir: Direction): string {
  if (type === MsgType.STATUS || type === MsgType.ERROR) return `${kebab(msgTypeName(type))}-event`;
  return `${kebab(msgTypeName(type))}-${dir}`;
}

function expectRuleMatchesSchema(ruleName: string, schema: string): void {
  const members = mapRule(ruleName);
  const fields = parseSchema(schema);
  const got = members.map((m) => ({ key: m.key, optional: m.optional, name: m.name, ...m.type }));
  const want = fields.map((f) => ({ key: f.key, optional: f.optional, name: f.name, ...schemaDesc(f) }));
  expect({ rule: ruleName, fields: got }).toEqual({ rule: ruleName, fields: want });
}

// ------------------------------------------------------------------ hex examples

interface Example {
  name: string;
  attrs: { [k: string]: string };
  bytes: Uint8Array;
  line: number;
}

function examples(): Map<string, Example> {
  const out = new Map<string, Example>();
  for (const b of BLOCKS.filter((x) => x.info === 'hex')) {
    const marker = LINES[b.line - 2] ?? '';
    const m = /^<!-- example: ([a-z0-9-]+)((?:\s+[\w-]+=\S+)*)\s*-->$/.exec(marker.trim());
    if (!m) throw new Error(`SPEC.md:${b.line}: hex block without an "<!-- example: … -->" line before it`);
    const attrs: { [k: string]: string } = {};
    for (const kv of m[2].trim().split(/\s+/).filter(Boolean)) {
      const i = kv.indexOf('=');
      attrs[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const tokens = b.body.map((l) => l.replace(/#.*$/, '')).join(' ').split(/\s+/).filter(Boolean);
    for (const t of tokens) if (!/^[0-9a-f]{2}$/.test(t)) throw new Error(`SPEC.md:${b.line}: "${t}" is not a lower-case hex byte`);
    if (out.has(m[1])) throw new Error(`example ${m[1]} defined twice`);
    out.set(m[1], { name: m[1], attrs, bytes: Uint8Array.from(tokens.map((t) => parseInt(t, 16))), line: b.line });
  }
  // every marker must introduce a hex block
  LINES.forEach((l, i) => {
    if (l.startsWith('<!-- example:') && LINES[i + 1] !== '```hex') throw new Error(`SPEC.md:${i + 1}: example marker not followed by a hex block`);
  });
  return out;
}

const EXAMPLES = examples();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function example(name: string): Example {
  const e = EXAMPLES.get(name);
  if (!e) throw new Error(`SPEC.md has no example "${name}"`);
  return e;
}

/** What `fn` threw (the protocol stack throws plain objects, not Errors). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a refusal, but the input was accepted');
}

/** A device-side decoded body with its UTF-8 byte strings turned into JS strings. */
function hostView(v: unknown): unknown {
  if (typeof v === 'string') return fromByteString(v);
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(hostView);
  if (v && typeof v === 'object') {
    const o: { [k: string]: unknown } = {};
    for (const k of Object.keys(v)) o[k] = hostView((v as { [k: string]: unknown })[k]);
    return o;
  }
  return v;
}

/** The frame a `kind=frame` example states, checked for structure and CRC. */
function parseFrameBytes(b: Uint8Array): Frame {
  expect(b.length).toBeGreaterThanOrEqual(FRAME_HEADER + FRAME_TRAILER);
  const n = b.length - FRAME_TRAILER;
  const crc = (b[n] | (b[n + 1] << 8) | (b[n + 2] << 16) | (b[n + 3] << 24)) >>> 0;
  expect(crc).toBe(crc32(b.subarray(0, n)));
  expect(b[0] >> 4).toBe(LINK_VERSION);
  return { kind: (b[0] & 0x0f) as FrameKindValue, seq: b[1], ack: b[2], payload: b.slice(FRAME_HEADER, n) };
}

function readWire(b: Uint8Array, byteByByte: boolean): { frames: Frame[]; reader: FrameReader } {
  const frames: Frame[] = [];
  const reader = new FrameReader(crc32, (f) => frames.push(f));
  if (byteByByte) for (let i = 0; i < b.length; i++) reader.push(b.subarray(i, i + 1));
  else reader.push(b);
  return { frames, reader };
}

// ------------------------------------------------------------------ virtual clock for the link

class Clock {
  now = 0;
  private seqNo = 0;
  timers: { id: number; at: number; ms: number; fn: () => void }[] = [];
  set = (fn: () => void, ms: number): unknown => {
    const id = ++this.seqNo;
    this.timers.push({ id, at: this.now + ms, ms, fn });
    return id;
  };
  clear = (h: unknown): void => {
    this.timers = this.timers.filter((t) => t.id !== h);
  };
  /** Runs the earliest timer; returns its duration as set. */
  step(): number {
    if (this.timers.length === 0) throw new Error('no timer pending');
    const t = this.timers.reduce((a, b) => (b.at < a.at ? b : a));
    this.clear(t.id);
    this.now = t.at;
    t.fn();
    return t.ms;
  }
}

interface Probe {
  link: Link;
  clock: Clock;
  sent: { t: number; f: Frame }[];
  resets: { t: number; reason: string }[];
}

function probeLink(): Probe {
  const clock = new Clock();
  const p: Probe = { link: null as unknown as Link, clock, sent: [], resets: [] };
  p.link = new Link({
    write: (bytes) => readWire(bytes, false).frames.forEach((f) => p.sent.push({ t: clock.now, f })),
    crc32,
    timers: { now: () => clock.now, set: clock.set, clear: clock.clear },
    onMessage: () => {},
    onReset: (reason) => p.resets.push({ t: clock.now, reason }),
    random32: () => 0x12345678,
  });
  return p;
}

const numbers = (s: string): number[] => (s.match(/\d+/g) ?? []).map(Number);

// ================================================================== tests

describe('SPEC.md CDDL matches the message catalogue', () => {
  it('has the shared rules', () => {
    for (const name of ['envelope', 'statement', 'money', 'log-entry', 'safe-uint', 'uint8', 'request-id', 'event-id', 'request', 'response']) expect(RULES.has(name)).toBe(true);
    expect(ruleValue('safe-uint')).toBe(`0..${MAX_UINT}`);
    expect(ruleValue('uint8')).toBe('0..255');
    expect(ruleValue('request-id')).toBe('1..4294967295');
    expect(ruleValue('event-id')).toBe('0..4294967295');
    // the envelope: type and id ranges are those checkEnvelope enforces
    const env = rule('envelope').text.map((l) => l.replace(/;.*$/, '').trim()).filter((l) => /^\w+\s*:/.test(l));
    expect(env.map((l) => l.split(':')[0])).toEqual(['type', 'id', 'body']);
    expect(cddlType(env[0].replace(/^type:\s*/, '').replace(/,$/, ''))).toEqual({ type: 'u', min: 0, max: 255 });
    expect(cddlType(env[1].replace(/^id:\s*/, '').replace(/,$/, ''))).toEqual({ type: 'u', min: 0, max: 4294967295 });
    expect(thrown(() => decodeMessage(encode([256, 1, new CborMap()]), 'request'))).toMatchObject({ code: ErrorCode.MALFORMED });
    expect(thrown(() => decodeMessage(encode([MsgType.PING, 4294967296, new CborMap().set(1, new Uint8Array(0))]), 'request'))).toMatchObject({ code: ErrorCode.MALFORMED });
    expect(decodeMessage(encode([MsgType.PING, 4294967295, new CborMap().set(1, new Uint8Array(0))]), 'request').id).toBe(4294967295);
    // request id 0 is reserved
    expect(thrown(() => decodeMessage(encode([MsgType.PING, 0, new CborMap().set(1, new Uint8Array(0))]), 'request'))).toMatchObject({ code: ErrorCode.MALFORMED });
    // nothing was left unrendered when SPEC.md was generated
    expect(SPEC.includes('{{')).toBe(false);
  });

  const requestTypes = Object.keys(REQUEST_SCHEMA).map(Number);
  const responseTypes = Object.keys(RESPONSE_SCHEMA).map(Number);

  it.each(requestTypes.map((t) => [ruleNameFor(t, 'request'), t]))('%s matches REQUEST_SCHEMA[%d]', (name, t) => {
    expectRuleMatchesSchema(name as string, REQUEST_SCHEMA[t as number]);
  });

  it.each(responseTypes.map((t) => [ruleNameFor(t, 'response'), t]))('%s matches RESPONSE_SCHEMA[%d]', (name, t) => {
    expectRuleMatchesSchema(name as string, RESPONSE_SCHEMA[t as number]);
  });

  it('statement matches STATEMENT_SCHEMA', () => {
    expectRuleMatchesSchema('statement', STATEMENT_SCHEMA);
  });

  it('has no message rule the catalogue does not know', () => {
    const known = new Set([...requestTypes.map((t) => ruleNameFor(t, 'request')), ...responseTypes.map((t) => ruleNameFor(t, 'response'))]);
    const stray = [...RULES.keys()].filter((n) => /-(request|response|event)$/.test(n) && !known.has(n));
    expect(stray).toEqual([]);
    // every catalogue type has a schema in at least one direction
    for (const t of Object.values(MsgType)) expect(t in REQUEST_SCHEMA || t in RESPONSE_SCHEMA).toBe(true);
  });

  it('the request and response unions list every type with its number and id rule', () => {
    const triples = (name: string): string[] =>
      [...rule(name).text.join('\n').matchAll(/\[\s*(\d+)\s*,\s*([\w-]+)\s*,\s*([\w-]+)\s*\]/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
    expect(triples('request')).toEqual(requestTypes.map((t) => `${t} request-id ${ruleNameFor(t, 'request')}`).sort());
    const evt = (t: number): boolean => t === MsgType.STATUS || t === MsgType.ERROR;
    expect(triples('response')).toEqual(responseTypes.map((t) => `${t} ${evt(t) ? 'event-id' : 'request-id'} ${ruleNameFor(t, 'response')}`).sort());
  });

  // money and log entries are built into the schema checker (types m and L), so the CDDL
  // is checked by probing the checker at the bounds the CDDL states
  const accepts = (schema: string, value: CborValue): boolean => {
    const body = new CborMap().set(1, value);
    try {
      decodeBody(body, schema, 'body');
      return true;
    } catch {
      return false;
    }
  };

  /** Values the CDDL type says are valid and invalid, at its bounds. */
  function boundaries(t: TypeDesc): { ok: CborValue[]; bad: CborValue[] } {
    switch (t.type) {
      case 'u':
        return { ok: [t.min, t.max], bad: [...(t.min > 0 ? [t.min - 1] : [-1]), ...(t.max < MAX_UINT ? [t.max + 1] : []), 1.5, 'x'] };
      case 't':
        return { ok: ['a'.repeat(t.min), 'a'.repeat(t.max)], bad: [...(t.min > 0 ? ['a'.repeat(t.min - 1)] : []), 'a'.repeat(t.max + 1), 7] };
      case 'r': {
        const re = new RegExp(`^(?:${t.regexp})$`);
        const samples = ['EUR', 'USD', 'JPY', 'eur', 'EU', 'EURO', 'E1R', ' EUR', 'EUR\n'];
        return { ok: samples.filter((s) => re.test(s)), bad: [...samples.filter((s) => !re.test(s)), 978] };
      }
      default:
        throw new Error(`no boundaries for ${t.type}`);
    }
  }

  it('money matches the schema checker', () => {
    const els = arrayRule('money');
    expect(els.map((e) => e.name)).toEqual(['amount', 'currency']);
    const base: CborValue[] = [1250, 'EUR'];
    els.forEach((e, i) => {
      const b = boundaries(e.type);
      for (const v of b.ok) expect({ element: e.name, value: v, ok: accepts('1 x m', base.map((x, j) => (j === i ? v : x))) }).toEqual({ element: e.name, value: v, ok: true });
      for (const v of b.bad) expect({ element: e.name, value: v, ok: accepts('1 x m', base.map((x, j) => (j === i ? v : x))) }).toEqual({ element: e.name, value: v, ok: false });
    });
    expect(accepts('1 x m', [1250, 'EUR', 0])).toBe(false);
  });

  it('log-entry matches the schema checker', () => {
    const els = arrayRule('log-entry');
    const base: CborValue[] = [7, 1, 1250, 'EUR', 'CD-ROM Versand GmbH', 900000000];
    expect(els.length).toBe(base.length);
    // the names are those the decoder gives the fields, in order
    const decoded = decodeBody(new CborMap().set(1, [base]), '1 e L 0 20', 'body').e as object[];
    expect(els.map((e) => e.name)).toEqual(Object.keys(decoded[0]));
    els.forEach((e, i) => {
      const b = boundaries(e.type);
      const entry = (v: CborValue): CborValue => [base.map((x, j) => (j === i ? v : x))];
      for (const v of b.ok) expect({ element: e.name, value: v, ok: accepts('1 e L 0 20', entry(v)) }).toEqual({ element: e.name, value: v, ok: true });
      for (const v of b.bad) expect({ element: e.name, value: v, ok: accepts('1 e L 0 20', entry(v)) }).toEqual({ element: e.name, value: v, ok: false });
    });
  });
});

describe('SPEC.md tables match the code', () => {
  it('lists every message type, and marks what the firmware implements', () => {
    const rows = table('msgtypes');
    expect(rows.map((r) => `${r[0]} ${r[1]}`).sort()).toEqual(Object.entries(MsgType).map(([n, v]) => `${v} ${n}`).sort());
    for (const r of rows) {
      const t = Number(r[0]);
      expect(unquote(r[2])).toBe(t in REQUEST_SCHEMA ? ruleNameFor(t, 'request') : '—');
      expect(unquote(r[3])).toBe(ruleNameFor(t, 'response'));
    }
    // the firmware's handler table (device/src/app.ts) against the "implemented" column
    const main = readFileSync(join(ROOT, 'device', 'src', 'app.ts'), 'utf8');
    const handled = [...main.matchAll(/handlers\[MsgType\.(\w+)\]\s*=/g)].map((m) => m[1]).sort();
    expect(handled.length).toBeGreaterThan(0); // if this fails, the handler table moved: update this test
    const implemented = rows.filter((r) => r[4].startsWith('implemented') && Number(r[0]) in REQUEST_SCHEMA).map((r) => r[1]).sort();
    expect(implemented).toEqual(handled);
  });

  it('lists every error code with its number', () => {
    const rows = table('error-codes');
    expect(rows.map((r) => `${r[0]} ${r[1]}`).sort()).toEqual(Object.entries(ErrorCode).map(([n, v]) => `${v} ${n}`).sort());
    for (const r of rows) expect(r.slice(2).every((c) => c.length > 0)).toBe(true);
  });

  it('lists every device state and statement kind', () => {
    expect(table('device-states').map((r) => `${r[0]} ${r[1]}`).sort()).toEqual(Object.entries(DeviceState).map(([n, v]) => `${v} ${n}`).sort());
    expect(table('statement-kinds').map((r) => `${r[0]} ${r[1]}`).sort()).toEqual(Object.entries(StatementKind).map(([n, v]) => `${v} ${n}`).sort());
  });

  it('states the decoding limits', () => {
    const rows = table('limits');
    const keys = ['maxSize', 'maxDepth', 'maxLength', 'maxCount', 'maxTag'] as const;
    expect(rows.map((r) => unquote(r[0])).sort()).toEqual([...keys].sort());
    for (const r of rows) {
      const k = unquote(r[0]) as (typeof keys)[number];
      expect([k, Number(r[1]), Number(r[2])]).toEqual([k, LINK_LIMITS[k], NESTED_LIMITS[k]]);
    }
  });

  it('states the framing constants', () => {
    const consts: { [k: string]: number } = { LINK_VERSION, FRAME_HEADER, FRAME_TRAILER, MAX_PAYLOAD, MAX_ENCODED_FRAME, PROTOCOL_VERSION };
    const rows = table('constants');
    expect(rows.map((r) => unquote(r[0])).sort()).toEqual(Object.keys(consts).sort());
    for (const r of rows) expect([unquote(r[0]), Number(r[1])]).toEqual([unquote(r[0]), consts[unquote(r[0])]]);
  });

  it('states the CRC check value', () => {
    const m = /check \(CRC of the ASCII bytes `123456789`\) \| `0x([0-9A-F]{8})`/.exec(SPEC);
    expect(m).not.toBeNull();
    expect(parseInt((m as RegExpExecArray)[1], 16)).toBe(crc32(new TextEncoder().encode('123456789')));
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('COBS vectors encode and decode as stated', () => {
    const bytes = (cell: string): number[] => {
      const out: number[] = [];
      for (const t of unquote(cell.replace(/\(\d+\)\s*$/, '')).split(/\s+/)) {
        const r = /^([0-9a-f]{2})\.\.([0-9a-f]{2})$/.exec(t);
        if (r) for (let x = parseInt(r[1], 16); x <= parseInt(r[2], 16); x++) out.push(x);
        else out.push(parseInt(t, 16));
      }
      return out;
    };
    const rows = table('cobs');
    expect(rows.some((r) => bytes(r[0]).length >= 254)).toBe(true); // the 0xFF block rule is covered
    for (const r of rows) {
      const data = Uint8Array.from(bytes(r[0]));
      const enc = Uint8Array.from(bytes(r[1]));
      expect(data.length).toBe(numbers(/\((\d+)\)\s*$/.exec(r[0])?.[1] ?? '')[0]);
      expect(hex(cobsEncode(data))).toBe(hex(enc));
      expect(hex(cobsDecode(enc) as Uint8Array)).toBe(hex(data));
      expect(enc.includes(0)).toBe(false);
    }
    // the variant without the final 01 block after a 0xFF block decodes the same
    const run = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
    expect(hex(cobsDecode(cobsEncode(run).subarray(0, 255)) as Uint8Array)).toBe(hex(run));
  });

  it('maps every decoder error to the wire code stated', () => {
    const all: Record<CborErrorCode, true> = {
      TRUNCATED: true, TRAILING: true, NON_CANONICAL: true, UNSORTED_KEYS: true, DUPLICATE_KEY: true, INDEFINITE: true, UNSUPPORTED: true,
      BAD_KEY: true, OUT_OF_RANGE: true, INVALID_UTF8: true, TOO_DEEP: true, TOO_LONG: true, TOO_MANY: true, TOO_LARGE: true, UNENCODABLE: true,
    };
    const rows = table('cbor-errors');
    expect(rows.map((r) => unquote(r[0])).sort()).toEqual(Object.keys(all).sort());
    for (const r of rows) {
      const code = unquote(r[0]) as CborErrorCode;
      const m = /^`?([A-Z_]+)`? \((\d+)\)$/.exec(r[2]);
      expect(m).not.toBeNull();
      const [, name, num] = m as RegExpExecArray;
      const wire = cborErrorToMessageError(new CborError(code, 'x', 0)).code;
      expect([code, name, Number(num)]).toEqual([code, Object.keys(ErrorCode).find((k) => ErrorCode[k as keyof typeof ErrorCode] === wire), wire]);
    }
  });
});

describe('SPEC.md timers match the link', () => {
  const timerRows = table('link-timers');
  const timer = (name: string): string => {
    const r = timerRows.find((x) => unquote(x[0]) === name);
    if (!r) throw new Error(`timer table has no row "${name}"`);
    return r[1];
  };

  it('retransmission timeouts, backoff and link loss', () => {
    const rto = numbers(timer('rto'))[0];
    const baud = numbers(timer('baud'))[0];
    const maxRetries = numbers(timer('maxRetries'))[0];
    for (const r of table('rto')) {
      const n = Number(r[0]);
      const p = probeLink();
      p.link.send(new Uint8Array(n));
      while (p.resets.length === 0) p.clock.step();
      const data = p.sent.filter((s) => s.f.kind === FrameKind.DATA);
      const T = data.length > 1 ? data[1].t - data[0].t : NaN;
      expect({ n, T, formula: rto + Math.ceil((2 * (n + 16) * 10 * 1000) / baud) }).toEqual({ n, T: Number(r[1]), formula: Number(r[1]) });
      expect({ n, at: data.slice(1).map((s) => s.t) }).toEqual({ n, at: numbers(r[2]) });
      expect({ n, retransmissions: data.length - 1 }).toEqual({ n, retransmissions: maxRetries });
      expect({ n, lost: p.resets[0].t, reason: p.resets[0].reason }).toEqual({ n, lost: Number(r[3]), reason: 'timeout' });
    }
  });

  it('SYNC repetition', () => {
    const p = probeLink();
    p.link.sync();
    const want = numbers(timer('SYNC repetition').split('=')[1]);
    const got: number[] = [];
    for (let i = 0; i < want.length; i++) got.push(p.clock.step());
    expect(got).toEqual(want);
    expect(p.sent.every((s) => s.f.kind === FrameKind.SYNC && s.f.ack === 0xff && hex(s.f.payload) === '12345678')).toBe(true);
  });

  it('delayed acknowledgement', () => {
    const p = probeLink();
    p.link.receive(encodeFrame({ kind: FrameKind.DATA, seq: 0, ack: 0xff, payload: new Uint8Array([1]) }, crc32));
    expect(p.sent).toEqual([]);
    p.clock.step();
    expect(p.sent.map((s) => [s.t, s.f.kind, s.f.ack])).toEqual([[numbers(timer('ackDelay'))[0], FrameKind.ACK, 0]]);
  });

  it('idle gap: a frame soon after another shares its delimiter, one after a pause leads with 0x00', () => {
    const gap = numbers(timer('idleGap'))[0];
    let now = 0;
    const wires: Uint8Array[] = [];
    const link = new Link({
      write: (b) => wires.push(b),
      crc32,
      timers: { now: () => now, set: () => 0, clear: () => {} },
      onMessage: () => {},
    });
    // a peer SYNC makes the link answer SYNC_ACK; then events at chosen times
    link.receive(encodeFrame({ kind: FrameKind.SYNC, seq: 0, ack: 0xff, payload: new Uint8Array(4) }, crc32));
    // the SYNC_ACK (14 bytes) leaves the line after ~1.2 ms at 115200 baud
    now = gap - 1;
    link.sendEvent(new Uint8Array([1]));
    now += gap + 5;
    link.sendEvent(new Uint8Array([2]));
    expect(wires.map((w) => w[0] === 0)).toEqual([true, false, true]);
  });

  it('queue length', () => {
    const p = probeLink();
    const q = numbers(timer('queue'))[0];
    expect(p.link.send(new Uint8Array([1]))).toBe(true); // outstanding
    for (let i = 0; i < q; i++) expect(p.link.send(new Uint8Array([1]))).toBe(true);
    expect(p.link.send(new Uint8Array([1]))).toBe(false);
  });
});

describe('SPEC.md frame kinds', () => {
  it('the kind table is the code\'s, ctl byte included', () => {
    const rows = table('frame-kinds').map((r) => [Number(r[0]), unquote(r[1]), r[2]]);
    const code = Object.entries(FrameKind).map(([name, k]) => [k, '0x' + ((LINK_VERSION << 4) | k).toString(16), name]);
    expect(rows).toEqual(code);
  });
});

describe('SPEC.md hex examples', () => {
  const all = [...EXAMPLES.values()];

  it('has the examples the spec promises', () => {
    for (const n of ['hello-request', 'hello-request-frame', 'hello-request-wire', 'hello-response', 'hello-response-frame', 'hello-response-wire', 'ack-frame', 'ack-wire', 'sync-frame', 'sync-wire', 'sync-ack-frame', 'sync-ack-wire', 'error-unsupported', 'payment-statement', 'sign-request', 'crc-error-wire', 'non-canonical-request', 'error-non-canonical', 'cbor-1800']) {
      expect(EXAMPLES.has(n)).toBe(true);
    }
    for (const e of all) expect(['message', 'frame', 'wire', 'statement', 'sig-structure', 'cbor']).toContain(e.attrs.kind);
  });

  const messages = all.filter((e) => e.attrs.kind === 'message');
  it.each(messages.map((e) => [e.name, e]))('message %s', (_n, ex) => {
    const e = ex as Example;
    const dir = e.attrs.dir as Direction;
    expect(['request', 'response']).toContain(dir);
    if (e.attrs.expect) {
      const code = ErrorCode[e.attrs.expect as keyof typeof ErrorCode];
      expect(code).toBeDefined();
      expect(thrown(() => decodeMessage(e.bytes, dir))).toMatchObject({ code });
      expect(thrown(() => decodeHostMessage(e.bytes, dir))).toMatchObject({ code });
      return;
    }
    const d = decodeMessage(e.bytes, dir);
    const h = decodeHostMessage(e.bytes, dir);
    expect([d.type, d.id]).toEqual([h.type, h.id]);
    expect(hostView(d.body)).toEqual(h.body);
    expect(hex(encodeMessage(d.type, d.id, d.body, dir))).toBe(hex(e.bytes));
    expect(hex(encodeHostMessage(h.type, h.id, h.body, dir))).toBe(hex(e.bytes));
    if (e.attrs.statement) expect(hex(d.body.statement as Uint8Array)).toBe(hex(example(e.attrs.statement).bytes));
  });

  const statements = all.filter((e) => e.attrs.kind === 'statement');
  it.each(statements.map((e) => [e.name, e]))('statement %s', (_n, ex) => {
    const e = ex as Example;
    const d = decodeBody(decode(e.bytes, NESTED_LIMITS), STATEMENT_SCHEMA, 'statement');
    const h = decodeBody(toModel(decodeCanonical(e.bytes, NESTED_LIMITS)), STATEMENT_SCHEMA, 'statement', utf8Length);
    expect(hostView(d)).toEqual(h);
    expect(hex(encode(encodeBody(d, STATEMENT_SCHEMA, 'statement')))).toBe(hex(e.bytes));
    expect(hex(encodeCanonical(fromModel(encodeBody(h, STATEMENT_SCHEMA, 'statement', utf8Length))))).toBe(hex(e.bytes));
  });

  const sigs = all.filter((e) => e.attrs.kind === 'sig-structure');
  it.each(sigs.map((e) => [e.name, e]))('Sig_structure %s', (_n, ex) => {
    const e = ex as Example;
    const stmt = example(e.attrs.statement).bytes;
    const protectedHeader = encode(new CborMap().set(1, -7));
    expect(hex(protectedHeader)).toBe('a10126');
    expect(hex(encode(['Signature1', protectedHeader, new Uint8Array(0), stmt]))).toBe(hex(e.bytes));
    expect(hex(encodeCanonical(['Signature1', encodeCanonical(new Map([[1, -7]])), new Uint8Array(0), stmt]))).toBe(hex(e.bytes));
  });

  const frames = all.filter((e) => e.attrs.kind === 'frame');
  it.each(frames.map((e) => [e.name, e]))('frame %s', (_n, ex) => {
    const e = ex as Example;
    const f = parseFrameBytes(e.bytes);
    expect(f.kind).toBe(FrameKind[e.attrs.frame as keyof typeof FrameKind]);
    expect([f.seq, f.ack]).toEqual([Number(e.attrs.seq), Number(e.attrs.ack)]);
    if (e.attrs.payload) {
      const p = example(e.attrs.payload);
      expect(hex(f.payload)).toBe(hex(p.bytes));
      expect(p.attrs.dir).toBe(e.attrs.dir);
    } else if (e.attrs.nonce) expect(hex(f.payload)).toBe(e.attrs.nonce);
    else expect(f.payload.length).toBe(0);
    if (f.kind === FrameKind.SYNC || f.kind === FrameKind.SYNC_ACK) expect([f.seq, f.ack, f.payload.length]).toEqual([0, 0xff, 4]);
    if (f.kind === FrameKind.ACK) expect([f.seq, f.payload.length]).toEqual([0, 0]);
  });

  const wires = all.filter((e) => e.attrs.kind === 'wire');
  it.each(wires.map((e) => [e.name, e]))('wire %s', (_n, ex) => {
    const e = ex as Example;
    const whole = readWire(e.bytes, false);
    const single = readWire(e.bytes, true);
    expect(single.frames).toEqual(whole.frames);
    expect(single.reader.stats).toEqual(whole.reader.stats);
    if (e.attrs.expect) {
      expect(e.attrs.expect).toBe('CRC_ERROR');
      expect(whole.frames).toEqual([]);
      expect(whole.reader.stats.crcErrors).toBe(1);
      return;
    }
    const want = parseFrameBytes(example(e.attrs.frame).bytes);
    expect(whole.frames).toEqual([want]);
    const noise = Number(e.attrs.noise ?? 0);
    const wire = e.bytes.subarray(noise);
    expect(hex(encodeFrame(want, crc32))).toBe(hex(wire));
    expect([wire[0], wire[wire.length - 1], wire.subarray(1, wire.length - 1).includes(0)]).toEqual([0, 0, false]);
    expect(hex(cobsDecode(wire.subarray(1, wire.length - 1)) as Uint8Array)).toBe(hex(example(e.attrs.frame).bytes));
  });

  const cbors = all.filter((e) => e.attrs.kind === 'cbor');
  it.each(cbors.map((e) => [e.name, e]))('CBOR vector %s', (_n, ex) => {
    const e = ex as Example;
    const dev = thrown(() => decode(e.bytes, LINK_LIMITS));
    const host = thrown(() => decodeCanonical(e.bytes, LINK_LIMITS));
    expect(dev).toBeInstanceOf(CborError);
    expect(host).toBeInstanceOf(CborError);
    expect([(dev as CborError).code, (host as CborError).code]).toEqual([e.attrs.expect, e.attrs.expect]);
    expect(cborErrorToMessageError(dev as CborError).code).toBe(ErrorCode[e.attrs.wire as keyof typeof ErrorCode]);
  });

  it('the ERROR for the non-canonical example carries its id and code', () => {
    const req = example('non-canonical-request');
    const err = decodeMessage(example('error-non-canonical').bytes, 'response');
    expect(err.type).toBe(MsgType.ERROR);
    expect(err.body.code).toBe(ErrorCode[req.attrs.expect as keyof typeof ErrorCode]);
    expect(err.id).toBe(req.bytes[2]);
  });
});
