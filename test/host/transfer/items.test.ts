// Business items and packages: canonical bytes, content hashes over the tree, inclusion
// proofs, strict decoding with the path of the bad field, encrypted information.

import fc from 'fast-check';
import { encodeCanonical } from '../../../shared/src/cbor';
import { credential, decodeElement, encodeElement, hashElement, inclusionProof, information, leaves, openInformation, Package, payment, pkg, statement, verifyInclusion } from '../../../host/src/transfer/items';
import { TransferError } from '../../../host/src/transfer/errors';

const pay = payment({ instrument: 'device-purse/1', amount: 1250, currency: 'EUR', payee: 'books.example', evidence: Uint8Array.of(1, 2, 3) });
const offer = statement('semper-statement/1', Uint8Array.of(0xd2, 0x84));
const goods = information('text/plain', new TextEncoder().encode('chapter 1'));
const cert = credential(Uint8Array.of(9, 9, 9));
const tree = (): Package => pkg('order 42', [offer, pkg('payment', [pay, cert]), goods]);

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof TransferError) return `${e.code} ${e.detail ?? ''}`.trim();
    throw e;
  }
  return undefined;
}

test('a package round-trips through its canonical encoding, and the bytes are the spec’s', () => {
  const bytes = encodeElement(tree());
  expect(decodeElement(bytes)).toEqual(tree());
  expect(Buffer.from(encodeElement(decodeElement(bytes)))).toEqual(Buffer.from(bytes));
  // {1: 4, 2: h'090909'} — a credential item, byte for byte
  expect(Buffer.from(encodeElement(cert)).toString('hex')).toBe('a20104024309' + '0909');
});

test('content hashes: equal trees hash equal; any change anywhere changes the root; order matters', () => {
  const root = hashElement(tree());
  expect(hashElement(tree())).toEqual(root);
  const changed = tree();
  ((changed.children[1] as Package).children[0] as typeof pay).amount = 1251;
  expect(hashElement(changed)).not.toEqual(root);
  expect(hashElement(pkg('order 42', [pkg('payment', [pay, cert]), offer, goods]))).not.toEqual(root);
  expect(hashElement(pkg('order 43', tree().children))).not.toEqual(root);
  // an item and a one-item package are different things
  expect(hashElement(pkg('x', [pay]))).not.toEqual(hashElement(pay));
});

test('inclusion proofs: one item is shown to be in the receipted tree without the others', () => {
  const t = tree();
  const root = hashElement(t);
  for (const { path, hash } of leaves(t)) expect(verifyInclusion(hash, inclusionProof(t, path), root)).toBe(true);
  const proof = inclusionProof(t, [1, 0]);
  expect(verifyInclusion(hashElement(payment({ ...pay, amount: 1 })), proof, root)).toBe(false);
  expect(verifyInclusion(hashElement(pay), inclusionProof(t, [1, 1]), root)).toBe(false);
});

test('tampered bytes are refused or hash differently — never the same root', () => {
  const bytes = encodeElement(tree());
  const root = hashElement(tree());
  fc.assert(
    fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const b = bytes.slice();
      b[at] ^= x;
      let e;
      try {
        e = decodeElement(b);
      } catch (err) {
        expect(err).toBeInstanceOf(TransferError);
        return;
      }
      expect(hashElement(e)).not.toEqual(root);
    }),
    { numRuns: 300 },
  );
});

test('strict decoding names the bad field; non-canonical CBOR is refused', () => {
  const m = (entries: [number, unknown][]) => encodeCanonical(new Map(entries as never));
  expect(code(() => decodeElement(m([[1, 1], [2, 'device-purse/1'], [3, [0, 'EUR']], [4, 'p'], [5, Uint8Array.of(1)]])))).toBe('MALFORMED /3/0');
  expect(code(() => decodeElement(m([[1, 2], [2, 'semper-statement/1'], [3, Uint8Array.of(1)], [9, 1]])))).toBe('MALFORMED /9');
  expect(code(() => decodeElement(m([[1, 0], [2, 'p'], [3, [m([[1, 7]])]]])))).toMatch(/^MALFORMED/);
  expect(code(() => decodeElement(m([[1, 0], [2, 'p'], [3, [new Map<number, unknown>([[1, 4], [2, 'not bytes']])]]])))).toBe('MALFORMED /3/0/2');
  expect(code(() => decodeElement(Uint8Array.of(0xb9, 0x00, 0x01, 0x01, 0x04)))).toBe('MALFORMED /'); // 16-bit map length
  let deep: Package = pkg('leaf', [cert]);
  for (let i = 0; i < 8; i++) deep = { kind: 'package', name: `l${i}`, children: [deep] };
  expect(code(() => encodeElement(deep))).toMatch(/^MALFORMED/);
});

test('information can travel encrypted; the wrong key does not open it', () => {
  const k = new Uint8Array(32).fill(5);
  const sealed = information('application/pdf', Uint8Array.of(1, 2, 3), k);
  expect(sealed.encrypted).toBe(true);
  expect(openInformation(decodeElement(encodeElement(sealed)) as typeof sealed, k)).toEqual(Uint8Array.of(1, 2, 3));
  expect(code(() => openInformation(sealed, new Uint8Array(32).fill(6)))).toBe('CONFIDENTIALITY');
  expect(code(() => openInformation({ ...sealed, mediaType: 'text/plain' }, k))).toBe('CONFIDENTIALITY');
});
