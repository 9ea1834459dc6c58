// Business items and tree-like packages (SEMPER §3.3), their canonical encoding and content
// hashes. README.md in this folder ("Packages") is the specification of every byte here.
//
//   element   = package / payment / statement / information / credential
//   package   = {1: 0, 2: name (tstr), 3: [+ element]}
//   payment   = {1: 1, 2: instrument (tstr "name/version"), 3: [amount (uint), currency (tstr)], 4: payee (tstr), 5: evidence (bstr)}
//   statement = {1: 2, 2: format (tstr "name/version"), 3: document (bstr)}
//   information = {1: 3, 2: media type (tstr), 3: data (bstr), ? 4: true}   ; 4: data is a COSE_Encrypt0
//   credential  = {1: 4, 2: certificate (bstr, shared/src/certificate.ts)}
//
//   hash(item)    = SHA-256(0x00 ‖ canonical CBOR of the item)
//   hash(package) = SHA-256(0x01 ‖ canonical CBOR [name, [hash(child) ...]])
//
// The root hash names exactly the whole tree (a receipt signs it); a child's hash plus the
// sibling hashes on the way up prove that one item was part of a receipted package without
// disclosing the others (`inclusionProof` / `verifyInclusion`).

import { sha256 } from '@noble/hashes/sha256';
import { CborLimits } from '../../../protocol/src/cbor';
import { encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { CoseError, decodeStrict, decryptEncrypt0, encryptEncrypt0 } from '../../../shared/src/cose';
import { TransferError } from './errors';

export const ITEM_KIND = { package: 0, payment: 1, statement: 2, information: 3, credential: 4 } as const;
export type ElementKind = keyof typeof ITEM_KIND;

export interface PaymentItem {
  kind: 'payment';
  /** The payment module that made it, "name/version" (e.g. "device-purse/1"). */
  instrument: string;
  amount: number;
  currency: string;
  payee: string;
  /** The instrument's own evidence: a card-signed token, a signed payment order. */
  evidence: Uint8Array;
}

export interface StatementItem {
  kind: 'statement';
  /** The statement module's format, "name/version". */
  format: string;
  /** The signed document (usually a COSE_Sign1). */
  document: Uint8Array;
}

export interface InformationItem {
  kind: 'information';
  mediaType: string;
  /** The data, or a COSE_Encrypt0 of it when `encrypted`. */
  data: Uint8Array;
  encrypted?: boolean;
}

export interface CredentialItem {
  kind: 'credential';
  certificate: Uint8Array;
}

export type Item = PaymentItem | StatementItem | InformationItem | CredentialItem;

export interface Package {
  kind: 'package';
  name: string;
  children: Element[];
}

export type Element = Package | Item;

/** Package limits: depth of nesting, children per package, bytes in total. */
export const PACKAGE_LIMITS: CborLimits = { maxSize: 4 << 20, maxDepth: 24, maxLength: 2 << 20, maxCount: 256, maxTag: 255 };
const MAX_TREE_DEPTH = 8;
const MAX_TEXT = 256;

const MODULE_REF = /^[a-z0-9][a-z0-9.-]{0,63}\/[0-9]{1,6}$/;
const CURRENCY = /^[A-Z]{3}$/;

// ------------------------------------------------------------------ constructors

export function pkg(name: string, children: Element[]): Package {
  const p: Package = { kind: 'package', name, children };
  checkElement(p, '', 0);
  return p;
}

export function payment(p: Omit<PaymentItem, 'kind'>): PaymentItem {
  const i: PaymentItem = { kind: 'payment', ...p };
  checkElement(i, '', 0);
  return i;
}

export function statement(format: string, document: Uint8Array): StatementItem {
  const i: StatementItem = { kind: 'statement', format, document };
  checkElement(i, '', 0);
  return i;
}

/** Information; with `key` (32 bytes) the data is sealed as COSE_Encrypt0 (A256GCM), e.g. goods whose key is released later. */
export function information(mediaType: string, data: Uint8Array, key?: Uint8Array): InformationItem {
  const i: InformationItem = key ? { kind: 'information', mediaType, data: encryptEncrypt0(data, key, { externalAad: aadOf(mediaType) }), encrypted: true } : { kind: 'information', mediaType, data };
  checkElement(i, '', 0);
  return i;
}

/** The plaintext of an information item (decrypting it with `key` when it is encrypted). CONFIDENTIALITY on a wrong key. */
export function openInformation(i: InformationItem, key?: Uint8Array): Uint8Array {
  if (!i.encrypted) return i.data;
  if (!key) throw new TransferError('CONFIDENTIALITY', 'the information is encrypted and no key was given');
  try {
    return decryptEncrypt0(i.data, key, { externalAad: aadOf(i.mediaType) });
  } catch (e) {
    if (e instanceof CoseError) throw new TransferError('CONFIDENTIALITY', `the information does not decrypt: ${e.code}`);
    throw e;
  }
}

export function credential(certificate: Uint8Array): CredentialItem {
  const i: CredentialItem = { kind: 'credential', certificate };
  checkElement(i, '', 0);
  return i;
}

const aadOf = (mediaType: string): Uint8Array => encodeCanonical(['semper-information', mediaType]);

// ------------------------------------------------------------------ checks

function bad(path: string, msg: string): never {
  throw new TransferError('MALFORMED', `${msg} at /${path}`, `/${path}`);
}

function text(v: unknown, path: string, max = MAX_TEXT): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || !v.isWellFormed()) bad(path, `text of 1..${max} characters expected`);
  return v;
}

function bytes(v: unknown, path: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length === 0) bad(path, 'a non-empty byte string expected');
  return v;
}

function checkElement(e: Element, path: string, depth: number): void {
  if (depth > MAX_TREE_DEPTH) bad(path, `packages nest at most ${MAX_TREE_DEPTH} deep`);
  switch (e.kind) {
    case 'package':
      text(e.name, `${path}2`);
      if (!Array.isArray(e.children) || e.children.length === 0 || e.children.length > 64) bad(`${path}3`, 'a package holds 1..64 elements');
      e.children.forEach((c, i) => checkElement(c, `${path}3/${i}/`, depth + 1));
      return;
    case 'payment':
      if (!MODULE_REF.test(e.instrument)) bad(`${path}2`, 'instrument must be "name/version"');
      if (!Number.isSafeInteger(e.amount) || e.amount <= 0) bad(`${path}3/0`, 'amount must be a positive integer of minor units');
      if (!CURRENCY.test(e.currency)) bad(`${path}3/1`, 'currency must be an ISO 4217 code');
      text(e.payee, `${path}4`, 64);
      bytes(e.evidence, `${path}5`);
      return;
    case 'statement':
      if (!MODULE_REF.test(e.format)) bad(`${path}2`, 'format must be "name/version"');
      bytes(e.document, `${path}3`);
      return;
    case 'information':
      text(e.mediaType, `${path}2`);
      if (!(e.data instanceof Uint8Array)) bad(`${path}3`, 'data must be a byte string');
      if (e.encrypted !== undefined && e.encrypted !== true) bad(`${path}4`, 'encrypted is true or absent');
      return;
    case 'credential':
      bytes(e.certificate, `${path}2`);
      return;
    default:
      bad(path, 'unknown element kind');
  }
}

// ------------------------------------------------------------------ encoding

export function elementToCbor(e: Element): HostCborMap {
  const m: HostCborMap = new Map<number | string, HostCbor>([[1, ITEM_KIND[e.kind]]]);
  switch (e.kind) {
    case 'package':
      m.set(2, e.name).set(3, e.children.map(elementToCbor));
      break;
    case 'payment':
      m.set(2, e.instrument).set(3, [e.amount, e.currency]).set(4, e.payee).set(5, e.evidence);
      break;
    case 'statement':
      m.set(2, e.format).set(3, e.document);
      break;
    case 'information':
      m.set(2, e.mediaType).set(3, e.data);
      if (e.encrypted) m.set(4, true);
      break;
    case 'credential':
      m.set(2, e.certificate);
      break;
  }
  return m;
}

/** The canonical CBOR of an element (a package or a single item). */
export function encodeElement(e: Element): Uint8Array {
  checkElement(e, '', 0);
  return encodeCanonical(elementToCbor(e));
}

const FIELDS: Record<number, number[]> = { 0: [1, 2, 3], 1: [1, 2, 3, 4, 5], 2: [1, 2, 3], 3: [1, 2, 3, 4], 4: [1, 2] };

function elementFromCbor(v: HostCbor, path: string, depth: number): Element {
  if (!(v instanceof Map)) bad(path, 'an element is a map');
  const kind = v.get(1);
  if (typeof kind !== 'number' || FIELDS[kind] === undefined) bad(`${path}1`, 'unknown element kind');
  for (const k of v.keys()) if (typeof k !== 'number' || !FIELDS[kind].includes(k)) bad(`${path}${String(k)}`, 'unexpected field');
  let e: Element;
  switch (kind) {
    case 0: {
      const children = v.get(3);
      if (!Array.isArray(children)) bad(`${path}3`, 'children must be an array');
      if (depth >= MAX_TREE_DEPTH) bad(path, `packages nest at most ${MAX_TREE_DEPTH} deep`);
      e = { kind: 'package', name: v.get(2) as string, children: children.map((c, i) => elementFromCbor(c, `${path}3/${i}/`, depth + 1)) };
      break;
    }
    case 1: {
      const money = v.get(3);
      if (!Array.isArray(money) || money.length !== 2) bad(`${path}3`, 'money is [amount, currency]');
      e = { kind: 'payment', instrument: v.get(2) as string, amount: money[0] as number, currency: money[1] as string, payee: v.get(4) as string, evidence: v.get(5) as Uint8Array };
      break;
    }
    case 2:
      e = { kind: 'statement', format: v.get(2) as string, document: v.get(3) as Uint8Array };
      break;
    case 3:
      e = { kind: 'information', mediaType: v.get(2) as string, data: v.get(3) as Uint8Array };
      if (v.has(4)) e.encrypted = v.get(4) as true;
      break;
    default:
      e = { kind: 'credential', certificate: v.get(2) as Uint8Array };
  }
  // required fields present, types right (the constructors' rules, with the decoder's path)
  for (const k of FIELDS[kind]) if (k !== 4 || kind !== 3) if (!v.has(k)) bad(`${path}${k}`, 'missing field');
  checkElement(e, path, depth);
  return e;
}

/** Decodes canonical CBOR into an element; refuses anything else with MALFORMED naming the path. */
export function decodeElement(b: Uint8Array): Element {
  let v: HostCbor;
  try {
    v = decodeStrict(b, PACKAGE_LIMITS);
  } catch (e) {
    if (e instanceof CoseError) throw new TransferError('MALFORMED', `not canonical CBOR: ${e.message}`, '/');
    throw e;
  }
  return elementFromCbor(v, '', 0);
}

// ------------------------------------------------------------------ hashing

/** The content hash of an element: of the item's encoding, or of the package's name and children's hashes. */
export function hashElement(e: Element): Uint8Array {
  if (e.kind === 'package') return packageNodeHash(e.name, e.children.map(hashElement));
  return sha256(concat(Uint8Array.of(0), encodeElement(e)));
}

function packageNodeHash(name: string, childHashes: Uint8Array[]): Uint8Array {
  return sha256(concat(Uint8Array.of(1), encodeCanonical([name, childHashes])));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Every item of a tree with its path (child indexes from the root) and hash, depth first. */
export function leaves(e: Element, path: number[] = []): { path: number[]; item: Item; hash: Uint8Array }[] {
  if (e.kind !== 'package') return [{ path, item: e, hash: hashElement(e) }];
  return e.children.flatMap((c, i) => leaves(c, [...path, i]));
}

/** One step of an inclusion proof: the package's name, the position and the hashes of all its children. */
export interface ProofStep {
  name: string;
  index: number;
  siblings: Uint8Array[];
}

/** The steps from the element at `path` up to the root (innermost first). */
export function inclusionProof(root: Package, path: number[]): ProofStep[] {
  const steps: ProofStep[] = [];
  let node: Element = root;
  for (const i of path) {
    if (node.kind !== 'package' || i < 0 || i >= node.children.length) throw new TransferError('MALFORMED', 'no element at that path');
    steps.unshift({ name: node.name, index: i, siblings: node.children.map(hashElement) });
    node = node.children[i];
  }
  return steps;
}

/** True when `itemHash` with the proof hashes up to `rootHash`. */
export function verifyInclusion(itemHash: Uint8Array, proof: ProofStep[], rootHash: Uint8Array): boolean {
  let h = itemHash;
  for (const s of proof) {
    if (s.index < 0 || s.index >= s.siblings.length) return false;
    const hs = s.siblings.slice();
    hs[s.index] = h;
    h = packageNodeHash(s.name, hs);
  }
  return h.length === rootHash.length && h.every((b, i) => b === rootHash[i]);
}
