// The transfer manager: every security attribute enforced with real COSE, and each shown
// failing when it is missing or broken — a tampered package, the wrong signer, a missing or
// foreign receipt, the wrong decryption key, an identity leak — over an in-memory channel
// with an attacker on the line, and once over HTTP. Items and receipts are archived before
// the acknowledgement.

import { issueCertificate, TrustStore } from '../../../shared/src/certificate';
import { SqliteArchive } from '../../../host/src/services/archive';
import { httpChannel, memoryChannel, serveTransfers } from '../../../host/src/transfer/channel';
import { TransferError } from '../../../host/src/transfer/errors';
import { credential, hashElement, information, pkg, statement } from '../../../host/src/transfer/items';
import { Identity, makeReceipt, Received, SecurityAttribute, TransferManager, verifyReceipt } from '../../../host/src/transfer/manager';
import { ca, key, rootCertificate } from '../bank/rig';

const alice: Identity = { name: 'alice', ...key('transfer alice') };
const shop: Identity = { name: 'books.example', ...key('transfer shop') };
const mallory = key('transfer mallory');
const goodsText = 'chapter 1: it was a dark and stormy night';
const order = () => pkg('order 42', [statement('cose-bytes/1', Uint8Array.of(0xd2, 0x84, 1)), information('text/plain', new TextEncoder().encode(goodsText))]);
const shopPeer = { name: shop.name, publicKey: shop.publicKey };

let archives: SqliteArchive[] = [];
function archive(): SqliteArchive {
  const a = SqliteArchive.open(':memory:');
  archives.push(a);
  return a;
}
afterEach(() => {
  archives.forEach((a) => a.close());
  archives = [];
});

function pair(o: { receiverRequire?: SecurityAttribute[]; sender?: Identity; peers?: Record<string, Uint8Array> } = {}) {
  const got: Received[] = [];
  const shopArchive = archive();
  const aliceArchive = archive();
  const receiver = new TransferManager({ identity: shop, archive: shopArchive, peers: (n) => (o.peers ?? { alice: alice.publicKey })[n], require: o.receiverRequire, accept: (r) => void got.push(r) });
  const sender = new TransferManager({ identity: o.sender ?? alice, archive: aliceArchive });
  return { receiver, sender, got, shopArchive, aliceArchive };
}

async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TransferError) return e.code;
    throw e;
  }
  return 'accepted';
}

const contains = (hay: Uint8Array, needle: Uint8Array | string) => Buffer.from(hay).includes(Buffer.from(typeof needle === 'string' ? new TextEncoder().encode(needle) : needle));

test('all of integrity, origin, confidentiality and receipt: delivered intact, receipted, archived on both sides', async () => {
  const { receiver, sender, got, shopArchive, aliceArchive } = pair({ receiverRequire: ['integrity', 'origin', 'confidentiality', 'receipt'] });
  const wire: Uint8Array[] = [];
  const r = await sender.send(memoryChannel(receiver.handler, { onRequest: (b) => (wire.push(b), b) }), shopPeer, order(), { attributes: ['origin', 'confidentiality', 'receipt'], deal: 'deal-1' });
  expect(got).toHaveLength(1);
  expect(got[0].element).toEqual(order());
  expect(got[0].sender).toBe('alice');
  expect(got[0].attributes).toEqual(['integrity', 'origin', 'confidentiality', 'receipt']);
  expect(Buffer.from(got[0].root)).toEqual(Buffer.from(hashElement(order())));
  const receipt = verifyReceipt(r.receipt!, shop.publicKey);
  expect(receipt).toMatchObject({ transferId: r.transferId, recipient: 'books.example', items: 2 });
  expect(Buffer.from(receipt.root)).toEqual(Buffer.from(r.root));
  // archived: 2 items + the package + the receipt, on each side
  expect((await shopArchive.list()).map((x) => x.kind)).toEqual(['signature', 'transfer', 'transfer', 'receipt']);
  expect((await aliceArchive.list()).map((x) => x.kind)).toEqual(['signature', 'transfer', 'transfer', 'receipt']);
  expect(Buffer.from((await aliceArchive.list({ kind: 'receipt' }))[0].evidence!)).toEqual(Buffer.from(r.receipt!));
  expect(contains(wire[0], goodsText)).toBe(false);
});

test('integrity: a package changed on the line is refused; without integrity the change goes through unnoticed', async () => {
  const evil = (b: Uint8Array) => {
    const i = Buffer.from(b).indexOf('dark');
    b[i] = 0x70; // "park"
    return b;
  };
  const a = pair();
  expect(await refused(a.sender.send(memoryChannel(a.receiver.handler, { onRequest: evil }), shopPeer, order(), { attributes: ['integrity'] }))).toBe('INTEGRITY');
  expect(a.got).toHaveLength(0);
  expect(await a.shopArchive.list()).toHaveLength(0);
  const b = pair();
  await b.sender.send(memoryChannel(b.receiver.handler, { onRequest: evil }), shopPeer, order(), { attributes: [] });
  expect(new TextDecoder().decode((b.got[0].element as ReturnType<typeof order>).children[1].kind === 'information' ? ((b.got[0].element as ReturnType<typeof order>).children[1] as { data: Uint8Array }).data : new Uint8Array())).toMatch(/park/);
  // a receiver that requires integrity refuses the unsigned transfer
  const c = pair({ receiverRequire: ['integrity'] });
  expect(await refused(c.sender.send(memoryChannel(c.receiver.handler), shopPeer, order(), { attributes: ['receipt'] }))).toBe('ATTRIBUTE_MISSING');
});

test('origin: signed by someone else under alice’s name, or by an unknown party, is refused', async () => {
  const a = pair({ sender: { name: 'alice', ...mallory } });
  expect(await refused(a.sender.send(memoryChannel(a.receiver.handler), shopPeer, order(), { attributes: ['origin'] }))).toBe('ORIGIN');
  const b = pair({ sender: { name: 'carol', ...mallory } });
  expect(await refused(b.sender.send(memoryChannel(b.receiver.handler), shopPeer, order(), { attributes: ['origin'] }))).toBe('ORIGIN');
  expect(a.got.length + b.got.length).toBe(0);
});

test('origin with a certificate: a CA-certified sender is accepted without configuration; a certificate for another name is not', async () => {
  const bankKey = key('transfer bank');
  const cert = (name: string) => issueCertificate({ name, publicKey: bankKey.publicKey, role: 'bank', subjectId: Uint8Array.of(7), issuerId: Uint8Array.of(0xca, 1), notBefore: 0, notAfter: 4102444800, serial: 77 }, ca.privateKey);
  const trust = new TrustStore();
  trust.addRoot(rootCertificate);
  const got: Received[] = [];
  const receiver = new TransferManager({ identity: shop, archive: archive(), trustStore: trust, accept: (r) => void got.push(r) });
  const ok = new TransferManager({ identity: { name: 'bank.example', ...bankKey, certificate: cert('bank.example') }, archive: archive() });
  await ok.send(memoryChannel(receiver.handler), shopPeer, order(), { attributes: ['origin'] });
  expect(got[0].sender).toBe('bank.example');
  const liar = new TransferManager({ identity: { name: 'bank.example', ...bankKey, certificate: cert('other bank') }, archive: archive() });
  expect(await refused(liar.send(memoryChannel(receiver.handler), shopPeer, order(), { attributes: ['origin'] }))).toBe('ORIGIN');
});

test('confidentiality: nothing readable on the line; the wrong key (or a changed header) does not decrypt', async () => {
  const a = pair();
  const wire: Uint8Array[] = [];
  await a.sender.send(memoryChannel(a.receiver.handler, { onRequest: (b) => (wire.push(b), b) }), shopPeer, order(), { attributes: ['confidentiality'] });
  expect(contains(wire[0], goodsText)).toBe(false);
  const plain: Uint8Array[] = [];
  await a.sender.send(memoryChannel(a.receiver.handler, { onRequest: (b) => (plain.push(b), b) }), shopPeer, order(), { attributes: [] });
  expect(contains(plain[0], goodsText)).toBe(true);
  // encrypted to a key the receiver does not hold
  const b = pair();
  expect(await refused(b.sender.send(memoryChannel(b.receiver.handler), { name: shop.name, publicKey: mallory.publicKey }, order(), { attributes: ['confidentiality'] }))).toBe('CONFIDENTIALITY');
  // the attributes in the header are bound to the ciphertext: dropping "receipt" on the line breaks it
  const c = pair();
  const downgrade = (x: Uint8Array) => {
    const i = Buffer.from(x).indexOf(Buffer.from([0x04, 0x0c])); // key 4 (attributes) = 12 (confidentiality | receipt)
    x[i + 1] = 0x04;
    return x;
  };
  expect(await refused(c.sender.send(memoryChannel(c.receiver.handler, { onRequest: downgrade }), shopPeer, order(), { attributes: ['confidentiality', 'receipt'] }))).toBe('CONFIDENTIALITY');
});

test('non-repudiation of receipt: a missing, foreign or mismatched receipt is refused', async () => {
  const a = pair();
  const strip = (b: Uint8Array) => {
    // the reply without its receipt, as a receiver that will not commit itself would send it
    const { decodeCanonical, encodeCanonical } = jest.requireActual('../../../shared/src/cbor');
    const m = decodeCanonical(b, { maxSize: 1 << 20, maxDepth: 8, maxLength: 1 << 20, maxCount: 64, maxTag: 255 });
    m.delete(3);
    return encodeCanonical(m);
  };
  expect(await refused(a.sender.send(memoryChannel(a.receiver.handler, { onAnswer: strip }), shopPeer, order(), { attributes: ['receipt'] }))).toBe('RECEIPT_MISSING');
  // the receipt is signed by another key than the recipient's
  const b = pair();
  expect(await refused(b.sender.send(memoryChannel(b.receiver.handler), { name: shop.name, publicKey: mallory.publicKey }, order(), { attributes: ['receipt'] }))).toBe('RECEIPT_INVALID');
  // a genuine receipt of the recipient, but for other content
  const c = pair();
  const swap = (bytes: Uint8Array) => {
    const { decodeCanonical, encodeCanonical } = jest.requireActual('../../../shared/src/cbor');
    const m = decodeCanonical(bytes, { maxSize: 1 << 20, maxDepth: 8, maxLength: 1 << 20, maxCount: 64, maxTag: 255 });
    const r = verifyReceipt(m.get(3), shop.publicKey);
    m.set(3, makeReceipt({ ...r, root: new Uint8Array(32) }, shop.privateKey, shop.publicKey));
    return encodeCanonical(m);
  };
  expect(await refused(c.sender.send(memoryChannel(c.receiver.handler, { onAnswer: swap }), shopPeer, order(), { attributes: ['receipt'] }))).toBe('RECEIPT_INVALID');
  expect(await c.aliceArchive.list({ kind: 'receipt' })).toHaveLength(0);
});

test('anonymity: no name, key or key id on the line, a fresh key per transfer; leaks and conflicts are refused', async () => {
  const a = pair();
  const wire: Uint8Array[] = [];
  const ch = memoryChannel(a.receiver.handler, { onRequest: (b) => (wire.push(b), b) });
  await a.sender.send(ch, shopPeer, order(), { attributes: ['anonymity', 'integrity', 'confidentiality', 'receipt'] });
  await a.sender.send(ch, shopPeer, order(), { attributes: ['anonymity', 'integrity'] });
  const { sha256 } = await import('@noble/hashes/sha256');
  for (const w of wire) for (const mark of [alice.publicKey, alice.publicKey.slice(1, 33), sha256(alice.publicKey).slice(0, 8), 'alice']) expect(contains(w, mark)).toBe(false);
  expect(a.got.map((g) => g.sender)).toEqual([undefined, undefined]);
  expect(Buffer.from(a.got[0].signerKey!)).not.toEqual(Buffer.from(a.got[1].signerKey!));
  expect(new Set((await a.shopArchive.list()).map((r) => r.counterparty))).toEqual(new Set(['anonymous']));
  // the package itself would give alice away
  const certified = { ...alice, certificate: Uint8Array.of(0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x41, 0x00, 0x40) };
  const b = pair({ sender: certified });
  expect(await refused(b.sender.send(memoryChannel(b.receiver.handler), shopPeer, pkg('p', [credential(certified.certificate)]), { attributes: ['anonymity'] }))).toBe('ANONYMITY_LEAK');
  expect(await refused(b.sender.send(memoryChannel(b.receiver.handler), shopPeer, pkg('p', [information('text/plain', new TextEncoder().encode('signed, alice'))]), { attributes: ['anonymity', 'confidentiality'] }))).toBe('ANONYMITY_LEAK');
  expect(await refused(b.sender.send(memoryChannel(b.receiver.handler), shopPeer, order(), { attributes: ['anonymity', 'origin'] }))).toBe('ATTRIBUTE_CONFLICT');
  // a receiver that promises anonymity to its customers refuses a named transfer
  const c = pair({ receiverRequire: ['anonymity'] });
  expect(await refused(c.sender.send(memoryChannel(c.receiver.handler), shopPeer, order(), { attributes: ['integrity'] }))).toBe('ATTRIBUTE_MISSING');
  // a named sender field slipped into an anonymous envelope is refused by the receiver
  const d = pair();
  const { decodeCanonical, encodeCanonical } = jest.requireActual('../../../shared/src/cbor');
  const inject = (x: Uint8Array) => {
    const m = decodeCanonical(x, { maxSize: 1 << 20, maxDepth: 8, maxLength: 1 << 20, maxCount: 64, maxTag: 255 });
    m.set(6, new Map<number, unknown>([[1, 'alice'], [2, new Uint8Array(8)]]));
    return encodeCanonical(m);
  };
  expect(await refused(d.sender.send(memoryChannel(d.receiver.handler, { onRequest: inject }), shopPeer, order(), { attributes: ['anonymity'] }))).toBe('ANONYMITY_LEAK');
});

test('a replayed envelope is refused; nothing is acknowledged that is not archived', async () => {
  const a = pair();
  let captured: Uint8Array | undefined;
  await a.sender.send(memoryChannel(a.receiver.handler, { onRequest: (b) => (captured = b.slice()) }), shopPeer, order(), { attributes: ['integrity', 'receipt'] });
  const { decodeCanonical } = jest.requireActual('../../../shared/src/cbor');
  const again = decodeCanonical(await a.receiver.handler(captured!), { maxSize: 1 << 20, maxDepth: 8, maxLength: 1 << 20, maxCount: 64, maxTag: 255 });
  expect(again.get(4)[0]).toBe('REPLAY');
  // an archive that cannot write: the receiver answers with an error and no receipt
  const broken = archive();
  broken.close();
  const receiver = new TransferManager({ identity: shop, archive: broken, peers: () => alice.publicKey });
  const sender = new TransferManager({ identity: alice, archive: archive() });
  expect(await refused(sender.send(memoryChannel(receiver.handler), shopPeer, order(), { attributes: ['integrity', 'receipt'] }))).toBe('REFUSED');
});

test('over HTTP: the same guarantees through serveTransfers / httpChannel', async () => {
  const a = pair({ receiverRequire: ['confidentiality', 'receipt'] });
  const svc = await serveTransfers(a.receiver.handler);
  try {
    const r = await a.sender.send(httpChannel(svc.url), shopPeer, order(), { attributes: ['origin', 'confidentiality', 'receipt'] });
    expect(verifyReceipt(r.receipt!, shop.publicKey).transferId).toBe(r.transferId);
    expect(a.got[0].element).toEqual(order());
    expect(await refused(a.sender.send(httpChannel(svc.url), shopPeer, order(), { attributes: ['origin'] }))).toBe('ATTRIBUTE_MISSING');
    expect(await refused(a.sender.send(httpChannel(svc.url.replace('/semper/transfer', '/nope')), shopPeer, order(), { attributes: [] }))).toBe('CHANNEL');
  } finally {
    await svc.close();
  }
  expect(await refused(a.sender.send(httpChannel(svc.url), shopPeer, order(), { attributes: [] }))).toBe('CHANNEL');
});
