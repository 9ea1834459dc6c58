// The firmware's card stack (device/src/card) bundled as the firmware is and run in the board
// emulator against the emulated card (board/card): slot, ATR, T=1 and every applet call.

import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { decode as cborDecode } from 'cbor-x';
import { checkBundle } from '../../tools/bundle-check/check';
import { EmulatedCard } from '../../board/card/card';
import { issueCertificate } from '../../board/card/cose';
import { makeLoadInstruction, newKeyPair, verifyToken } from '../../board/card/personalise';
import { ErrorCode } from '../../protocol/src/messages';
import { isBlock, parseBlock, T1Block } from '../../protocol/src/t1-block';
import { closeRigs, hexs, lineClock, makeRig, newCard, Rig, stackBundle, until } from './card-harness';

afterEach(() => closeRigs());

const PIN_BLOCK = '31 32 33 34 FF FF FF FF';
const wireBlocks = (rig: Rig): T1Block[] => {
  const out: T1Block[] = [];
  for (const w of rig.wire) {
    const p = parseBlock(w);
    if (isBlock(p)) out.push(p);
  }
  return out;
};
const wireHex = (rig: Rig): string => rig.wire.map((w) => hexs(w)).join(' | ');

async function opened(appletOpts: Record<string, unknown> = {}) {
  const rig = makeRig(appletOpts);
  const c = newCard();
  await rig.insert(c.card);
  const open = await rig.call<Record<string, unknown>>((cb) => rig.applet.open(cb));
  if (open.err) throw new Error(`open failed: ${JSON.stringify(open.err)}; wire ${wireHex(rig)}; reader ${JSON.stringify(rig.reader.stats)}; t1 ${JSON.stringify(rig.applet.terminal()?.stats)}`);
  return { rig, ...c, info: open.value };
}

describe('the bundle', () => {
  test('passes the Espruino bundle checker; size of the card stack alone', () => {
    const src = stackBundle();
    expect(checkBundle(src)).toEqual([]);
    console.log(`card stack bundle: ${Buffer.byteLength(src)} bytes minified`);
    expect(Buffer.byteLength(src)).toBeLessThan(25000);
  });

  test('8-byte amounts without BigInt or Math.pow: exact up to 2^53−1', () => {
    const rig = makeRig();
    const vals = [0, 1, 255, 256, 4294967295, 4294967296, 4294967297, 1234567890123, 9007199254740991];
    for (const v of vals) {
      const b = rig.u8(new Uint8Array(8));
      rig.api.putAmount(b, 0, v);
      const want = Buffer.alloc(8);
      want.writeBigUInt64BE(BigInt(v));
      expect(hexs(b)).toBe(hexs(want));
      expect(rig.api.getAmount(b, 0)).toBe(v);
    }
    const big = rig.u8([0, 0x20, 0, 0, 0, 0, 0, 0]); // 2^53
    expect(rig.api.getAmount(big, 0)).toBe(-1);
  });
});

describe('slot: detect, activation, ATR, T=1 set-up, echo', () => {
  test('start: UART from the pin map, card off; insertion and removal are reported', async () => {
    const rig = makeRig();
    const s2 = rig.device.sandbox.Serial2;
    expect(s2.baud).toBe(9409);
    expect(s2.options).toMatchObject({ rx: 'A3', tx: 'A2', bytesize: 8, parity: 'e', stopbits: 2 });
    expect(rig.device.pins.read('B3')).toBe(1); // VCC off (active low)
    expect(rig.device.pins.read('B5')).toBe(0); // RST low
    expect(rig.reader.present()).toBe(false);
    const nc = await rig.call((cb) => rig.applet.balance(cb));
    expect(nc.err).toMatchObject({ code: ErrorCode.NO_CARD });
    const { card } = newCard();
    await rig.insert(card);
    expect(rig.presence).toEqual([true]);
    expect(rig.reader.powered()).toBe(false); // powered on demand
    await rig.remove();
    expect(rig.presence).toEqual([true, false]);
  });

  test('open: cold reset, ATR, S(IFS) 254, SELECT, GET DATA; echo dropped byte for byte', async () => {
    const { rig, p, info } = await opened();
    expect(hexs(info.atr as Uint8Array)).toBe(hexs(new EmulatedCard(p.nv, { clock: () => lineClock.t }).atr));
    expect(Buffer.from(info.cardId as Uint8Array)).toEqual(Buffer.from(p.cardId));
    expect(Buffer.from(info.holder as string, 'latin1').toString('utf8')).toBe('Zoë Bär');
    expect(Buffer.from(info.kid as Uint8Array)).toEqual(Buffer.from(sha256(p.publicKey).slice(0, 8)));
    expect([info.pinTries, info.pukTries]).toEqual([3, 10]);
    expect(info.issuer).toBe('Test Bank');
    // power-up: VCC on, clock on B4 at the pin map's frequency, RST high
    expect(rig.device.pins.read('B3')).toBe(0);
    expect(rig.device.pins.read('B5')).toBe(1);
    expect(rig.analog).toEqual([{ pin: 'B4', value: 0.5, freq: 3571200 }]);
    // T=1 parameters from the ATR: IFSC 32, BWI 4, CWI 5, LRC at 3.5 MHz
    expect(rig.applet.params).toMatchObject({ ifsc: 32, edc: 'LRC', bwi: 4, cwi: 5 });
    expect(rig.applet.params.bwtMs).toBeCloseTo(11 * (372 / 3500) + 16 * 960 * (372 / 3500), 6);
    expect(rig.applet.params.cwtMs).toBeCloseTo(43 * (372 / 3500), 6);
    // the first block is S(IFS request) with IFSD 254, then SELECT with P2 0C
    expect(hexs(rig.wire[0])).toBe('00 C1 01 FE 3E');
    expect(hexs(rig.wire[1])).toBe('00 00 0D 00 A4 04 0C 08 F0 53 45 4D 50 45 52 01 ' + hexs([0x0d ^ 0xa4 ^ 0x04 ^ 0x0c ^ 0x08 ^ 0xf0 ^ 0x53 ^ 0x45 ^ 0x4d ^ 0x50 ^ 0x45 ^ 0x52 ^ 0x01]));
    expect(rig.applet.terminal().ifsdPending).toBe(false);
    const st = rig.reader.stats;
    const sent = rig.wire.reduce((n, w) => n + w.length, 0);
    expect(st.sent).toBe(sent);
    expect(st.echoed).toBe(sent);
    expect(st.echoErrors).toBe(0);
    expect(rig.applet.terminal().stats).toMatchObject({ retransmits: 0, resynchs: 0, badBlocks: 0, timeouts: 0 });
  });

  test('a mute card: CARD_ERROR MUTE and the card is switched off', async () => {
    const rig = makeRig();
    const { card } = newCard();
    card.reset = () => null; // never answers reset
    await rig.insert(card);
    const r = await rig.call((cb) => rig.applet.open(cb));
    expect(r.err).toMatchObject({ code: ErrorCode.CARD_ERROR, reason: 'MUTE' });
    expect(rig.device.pins.read('B3')).toBe(1);
    expect(rig.device.pins.read('B5')).toBe(0);
    expect(rig.reader.powered()).toBe(false);
  });

  test('an ATR with a bad TCK: CARD_ERROR ATR:TCK', async () => {
    const rig = makeRig();
    const { card } = newCard();
    const orig = card.reset.bind(card);
    card.reset = () => {
      const send = card.onTransmit;
      card.onTransmit = (b) => {
        const x = Uint8Array.from(b);
        x[x.length - 1] ^= 1;
        send(x);
      };
      const a = orig();
      card.onTransmit = send;
      return a;
    };
    await rig.insert(card);
    const r = await rig.call((cb) => rig.applet.open(cb));
    expect(r.err).toMatchObject({ code: ErrorCode.CARD_ERROR, reason: 'ATR:TCK' });
    expect(rig.reader.powered()).toBe(false);
  });
});

describe('applet calls', () => {
  test('PIN: wrong → tries left, blocked, PUK unblock, change PIN; the PIN block is wiped', async () => {
    const { rig } = await opened();
    const v = (pin: string) => rig.call<boolean>((cb) => rig.applet.verifyPin(pin, cb));
    expect((await v('1234')).value).toBe(true);
    expect((await v('9999')).err).toMatchObject({ code: ErrorCode.PIN_FAILED, triesLeft: 2, sw: 0x63c2 });
    expect((await v('9999')).err).toMatchObject({ code: ErrorCode.PIN_FAILED, triesLeft: 1 });
    expect((await v('9999')).err).toMatchObject({ code: ErrorCode.PIN_BLOCKED, triesLeft: 0, sw: 0x63c0 });
    expect((await v('1234')).err).toMatchObject({ code: ErrorCode.PIN_BLOCKED, sw: 0x6983 });
    const wrongPuk = await rig.call((cb) => rig.applet.unblock('00000000', '4321', cb));
    expect(wrongPuk.err).toMatchObject({ code: ErrorCode.PIN_FAILED, triesLeft: 9 });
    expect((await rig.call((cb) => rig.applet.unblock('12345678', '4321', cb))).value).toBe(true);
    expect((await v('4321')).value).toBe(true);
    expect((await rig.call((cb) => rig.applet.changePin('4321', '246810', cb))).value).toBe(true);
    expect((await v('4321')).err).toMatchObject({ code: ErrorCode.PIN_FAILED, triesLeft: 2 });
    expect((await v('246810')).value).toBe(true);
    const open = await rig.call<Record<string, number>>((cb) => rig.applet.open(cb));
    expect([open.value.pinTries, open.value.pukTries]).toEqual([3, 10]);
    // bad input never reaches the card
    expect((await v('12a4')).err).toMatchObject({ code: ErrorCode.SCHEMA });
    expect((await v('123')).err).toMatchObject({ code: ErrorCode.SCHEMA });
    // the PIN went over the wire (it must), and is not left in the reader's echo buffer
    expect(wireHex(rig)).toContain(PIN_BLOCK);
    const echo = (rig.reader as { echo: Uint8Array }).echo;
    expect(Array.from(echo).every((b) => b === 0)).toBe(true);
  });

  test('sign: needs a fresh VERIFY; r‖s verifies with the card key', async () => {
    const { rig, p } = await opened();
    const digest = sha256(Buffer.from('statement'));
    const no = await rig.call((cb) => rig.applet.sign(rig.u8(digest), cb));
    expect(no.err).toMatchObject({ code: ErrorCode.NOT_VERIFIED, sw: 0x6982 });
    await rig.call((cb) => rig.applet.verifyPin('1234', cb));
    const s = await rig.call<Uint8Array>((cb) => rig.applet.sign(rig.u8(digest), cb));
    expect(s.err).toBeNull();
    expect(s.value.length).toBe(64);
    expect(p256.verify(Uint8Array.from(s.value), digest, p.publicKey, { prehash: false })).toBe(true);
    const again = await rig.call((cb) => rig.applet.sign(rig.u8(digest), cb));
    expect(again.err).toMatchObject({ code: ErrorCode.NOT_VERIFIED });
  });

  test('verifyCertificate (chained over IFSC 32) then verifySignature with key 03; extended APDU of 400 bytes', async () => {
    const { rig, ca } = await opened();
    const merchant = newKeyPair('merchant');
    const name = 'Merchant ' + 'x'.repeat(55);
    const cert = issueCertificate({ subject: name, publicKey: merchant.publicKey, role: 2, subjectId: new Uint8Array(32).fill(7), notAfter: 2000000000 }, ca.privateKey);
    expect(cert.length).toBeGreaterThan(200);
    rig.wire.length = 0;
    const r = await rig.call<{ key: Uint8Array; role: number; name: string }>((cb) => rig.applet.verifyCertificate(rig.u8(cert), cb));
    expect(r.err).toBeNull();
    expect(Buffer.from(r.value.key)).toEqual(Buffer.from(merchant.publicKey));
    expect(r.value.role).toBe(2);
    expect(r.value.name).toBe(name);
    // the command went as a chain of I-blocks of at most IFSC = 32 bytes
    const iBlocks = wireBlocks(rig).filter((b) => b.kind === 'I');
    expect(iBlocks.length).toBe(Math.ceil((cert.length + 6) / 32));
    expect(iBlocks.every((b) => b.kind === 'I' && b.inf.length <= 32)).toBe(true);
    expect(iBlocks.slice(0, -1).every((b) => b.kind === 'I' && b.more)).toBe(true);
    const digest = sha256(Buffer.from('offer'));
    const sig = p256.sign(digest, merchant.privateKey, { prehash: false }).toCompactRawBytes();
    const ok = await rig.call((cb) => rig.applet.verifySignature(3, rig.u8(digest), rig.u8(sig), cb));
    expect(ok).toEqual({ err: null, value: true });
    const bad = Uint8Array.from(sig);
    bad[5] ^= 1;
    const no = await rig.call((cb) => rig.applet.verifySignature(3, rig.u8(digest), rig.u8(bad), cb));
    expect(no).toEqual({ err: null, value: false });
    // a certificate signed by someone else → VERIFY_FAILED (6300)
    const forged = issueCertificate({ subject: 'Mallory', publicKey: merchant.publicKey, role: 2 }, newKeyPair('mallory').privateKey);
    expect((await rig.call((cb) => rig.applet.verifyCertificate(rig.u8(forged), cb))).err).toMatchObject({ code: ErrorCode.VERIFY_FAILED, sw: 0x6300 });
    // 400 bytes (extended Lc, 13 blocks): the card parses the APDU and rejects the content (6A80, not 6700)
    rig.wire.length = 0;
    const junk = await rig.call((cb) => rig.applet.verifyCertificate(rig.u8(new Uint8Array(400).fill(0x41)), cb));
    expect(junk.err).toMatchObject({ code: ErrorCode.CARD_ERROR, sw: 0x6a80 });
    expect(wireBlocks(rig).filter((b) => b.kind === 'I').length).toBe(Math.ceil((400 + 9) / 32));
  });

  test('purse: balance, debit → token verifies, errors; load, replay, limit; log; last token', async () => {
    const { rig, p, issuer } = await opened();
    const bal = () => rig.call<{ amount: number; currency: string }>((cb) => rig.applet.balance(cb));
    expect((await bal()).value).toEqual({ amount: 5000, currency: 'EUR' });
    const digest = sha256(Buffer.from('basket'));
    const debit = (amount: number, currency = 'EUR') =>
      rig.call<Uint8Array>((cb) => rig.applet.debit({ amount, currency, time: 1700000000, digest: rig.u8(digest), payee: Buffer.from('Café Ünter', 'utf8').toString('latin1') }, cb));
    expect((await debit(1234)).err).toMatchObject({ code: ErrorCode.NOT_VERIFIED });
    await rig.call((cb) => rig.applet.verifyPin('1234', cb));
    const d = await debit(1234);
    expect(d.err).toBeNull();
    const tok = verifyToken(Uint8Array.from(d.value), p.publicKey);
    expect(tok).toMatchObject({ counter: 1, payee: 'Café Ünter', amount: 1234, currency: 'EUR', time: 1700000000 });
    expect(Buffer.from(tok!.txDigest)).toEqual(Buffer.from(digest));
    expect(Buffer.from(tok!.cardId)).toEqual(Buffer.from(p.cardId));
    expect((await bal()).value).toEqual({ amount: 3766, currency: 'EUR' });
    await rig.call((cb) => rig.applet.verifyPin('1234', cb));
    expect((await debit(999999)).err).toMatchObject({ code: ErrorCode.INSUFFICIENT_FUNDS, sw: 0x6a84 });
    await rig.call((cb) => rig.applet.verifyPin('1234', cb));
    expect((await debit(1, 'USD')).err).toMatchObject({ code: ErrorCode.CURRENCY, sw: 0x9401 });
    expect((await debit(0)).err).toMatchObject({ code: ErrorCode.SCHEMA });
    expect((await debit(1, 'eur')).err).toMatchObject({ code: ErrorCode.SCHEMA });

    const load = (counter: number, amount: number, cardId = p.cardId) =>
      rig.call<{ amount: number; currency: string }>((cb) =>
        rig.applet.load(rig.u8(makeLoadInstruction(issuer.privateKey, { cardId, loadCounter: counter, amount, currency: 'EUR', issuerName: 'Test Bank', time: 1700000100 })), cb),
      );
    expect(await load(1, 10000)).toEqual({ err: null, value: { amount: 13766, currency: 'EUR' } });
    expect((await load(1, 10000)).err).toMatchObject({ code: ErrorCode.REPLAYED, sw: 0x9403 });
    expect((await load(2, 100_000_00)).err).toMatchObject({ code: ErrorCode.LIMIT, sw: 0x9402 });
    expect((await load(3, 5, new Uint8Array(8))).err).toMatchObject({ code: ErrorCode.VERIFY_FAILED, sw: 0x9405 });
    const forged = makeLoadInstruction(newKeyPair('forger').privateKey, { cardId: p.cardId, loadCounter: 9, amount: 5, currency: 'EUR', issuerName: 'x' });
    expect((await rig.call((cb) => rig.applet.load(rig.u8(forged), cb))).err).toMatchObject({ code: ErrorCode.VERIFY_FAILED, sw: 0x9404 });
    expect((await bal()).value).toEqual({ amount: 13766, currency: 'EUR' });

    const log = await rig.call<Uint8Array>((cb) => rig.applet.readLog(0, cb));
    expect(log.err).toBeNull();
    const entries = cborDecode(Buffer.from(log.value)) as unknown[][];
    expect(entries).toEqual([
      [2, 2, 10000, 'EUR', 'Test Bank', 1700000100],
      [1, 1, 1234, 'EUR', 'Café Ünter', 1700000000],
    ]);
    const one = await rig.call<Uint8Array>((cb) => rig.applet.readLog(1, cb));
    expect((cborDecode(Buffer.from(one.value)) as unknown[]).length).toBe(1);
    expect((await rig.call((cb) => rig.applet.readLog(21, cb))).err).toMatchObject({ code: ErrorCode.SCHEMA });
    const last = await rig.call<Uint8Array>((cb) => rig.applet.lastToken(cb));
    expect(verifyToken(Uint8Array.from(last.value), p.publicKey)).toMatchObject({ counter: 1, amount: 1234, payee: 'Café Ünter' });
  });

  test('lastToken with no debit: CARD_ERROR 6A88; big amounts round-trip exactly', async () => {
    const rig = makeRig();
    const c = newCard(0);
    await rig.insert(c.card);
    expect((await rig.call((cb) => rig.applet.lastToken(cb))).err).toMatchObject({ code: ErrorCode.CARD_ERROR, sw: 0x6a88 });
    const r = await rig.call((cb) => rig.applet.balance(cb));
    expect(r.value).toEqual({ amount: 0, currency: 'EUR' });
  });

  test('one operation at a time: a second call gets BUSY at once', async () => {
    const { rig } = await opened();
    let second: unknown = null;
    const first = rig.call((cb) => rig.applet.balance(cb));
    rig.applet.balance((err: unknown) => {
      second = err;
    });
    expect(second).toMatchObject({ code: ErrorCode.BUSY });
    expect((await first).value).toEqual({ amount: 5000, currency: 'EUR' });
    expect(rig.applet.busy()).toBe(false);
  });
});

describe('faults', () => {
  test('card pulled mid-command → NO_CARD, card off; a re-inserted card works', async () => {
    const { rig, p } = await opened();
    await rig.call((cb) => rig.applet.verifyPin('1234', cb));
    // pull the card as the DEBIT command block leaves the reader
    const orig = rig.device.sandbox.onSerialWrite;
    rig.device.sandbox.onSerialWrite = (dev, b) => {
      if (dev === rig.device.sandbox.Serial2 && b.length > 3 && b[3] === 0x80 && b[4] === 0x52) rig.device.removeCard();
      orig(dev, b);
    };
    const r = await rig.call((cb) => rig.applet.debit({ amount: 1, currency: 'EUR', time: 0, digest: rig.u8(new Uint8Array(32)), payee: 'x' }, cb));
    expect(r.err).toMatchObject({ code: ErrorCode.NO_CARD });
    expect(rig.reader.present()).toBe(false);
    expect(rig.device.pins.read('B3')).toBe(1);
    expect(rig.device.pins.read('B5')).toBe(0);
    expect(rig.presence).toEqual([true, false]);
    rig.device.sandbox.onSerialWrite = orig;
    await rig.insert(new EmulatedCard(p.nv, { clock: () => lineClock.t }));
    const b = await rig.call((cb) => rig.applet.balance(cb));
    expect(b).toEqual({ err: null, value: { amount: 5000, currency: 'EUR' } });
    expect(rig.reader.stats.powerUps).toBe(2);
  });

  test('card pulled while idle: the next call is NO_CARD, then a new card is opened afresh', async () => {
    const { rig } = await opened();
    await rig.remove();
    expect((await rig.call((cb) => rig.applet.balance(cb))).err).toMatchObject({ code: ErrorCode.NO_CARD });
    const other = newCard(77);
    await rig.insert(other.card);
    const o = await rig.call<Record<string, unknown>>((cb) => rig.applet.open(cb));
    expect(Buffer.from(o.value.cardId as Uint8Array)).toEqual(Buffer.from(other.p.cardId));
  });

  test('WTX: GENERATE KEY PAIR (replace) makes the card ask for more time; the terminal grants it', async () => {
    const { rig } = await opened();
    await rig.call((cb) => rig.applet.verifyPin('1234', cb));
    const r = await rig.call<Uint8Array>((cb) => rig.applet.transmit(rig.u8([0x00, 0x47, 0x80, 0x01, 0x00]), cb));
    expect(r.err).toBeNull();
    expect(r.value.length).toBe(67);
    expect(hexs(r.value.slice(65))).toBe('90 00');
    const t = rig.applet.terminal();
    expect(t.stats.wtx).toBe(1);
    expect(t.lastWtx).toBe(3); // ceil(4000 ms / BWT 1.6 s)
    expect(wireHex(rig)).toContain('00 E3 01 03 E1'); // S(WTX response, 3)
  });

  test('a damaged block from the card (EDC) is recovered with R(N(R), EDC error)', async () => {
    const { rig, card } = await opened();
    const send = card.onTransmit;
    let n = 0;
    card.onTransmit = (b) => {
      const x = Uint8Array.from(b);
      if (n++ === 0) x[x.length - 2] ^= 0x10;
      send(x);
    };
    rig.wire.length = 0;
    const r = await rig.call((cb) => rig.applet.balance(cb));
    expect(r.value).toEqual({ amount: 5000, currency: 'EUR' });
    expect(rig.applet.terminal().stats).toMatchObject({ badBlocks: 1, retransmits: 1 });
    expect(hexs(rig.wire[1])).toBe('00 81 00 81'); // R(N(R) 0, EDC error): 6 card I-blocks so far, so N(S) 0 again
  });

  test('a lost block (BWT expiry) is asked for again', async () => {
    const { rig, card } = await opened({ bwtMs: 300 });
    const send = card.onTransmit;
    let n = 0;
    card.onTransmit = (b) => {
      if (n++ === 0) return; // the answer to BALANCE is lost
      send(b);
    };
    const r = await rig.call((cb) => rig.applet.balance(cb));
    expect(r.value).toEqual({ amount: 5000, currency: 'EUR' });
    expect(rig.applet.terminal().stats).toMatchObject({ timeouts: 1, retransmits: 1 });
    expect(rig.reader.stats.echoErrors).toBe(0);
  });

  test('a corrupted echo (a collision on the I/O line): the bytes go up, T=1 rejects the block and recovers', async () => {
    const { rig } = await opened();
    const s2 = rig.device.sandbox.Serial2;
    const inject = s2.inject.bind(s2);
    let last: Uint8Array | null = null;
    let hit = false;
    const orig = rig.device.sandbox.onSerialWrite;
    rig.device.sandbox.onSerialWrite = (dev, b) => {
      if (dev === s2) last = Uint8Array.from(b);
      orig(dev, b);
    };
    s2.inject = (b: Uint8Array) => {
      if (!hit && last && Buffer.from(b).equals(Buffer.from(last)) && b[3] === 0x80 && b[4] === 0x50) {
        hit = true;
        const x = Uint8Array.from(b);
        x[1] ^= 0x04; // the echo of BALANCE's PCB comes back wrong
        return inject(x);
      }
      inject(b);
    };
    const r = await rig.call((cb) => rig.applet.balance(cb));
    expect(hit).toBe(true);
    expect(r.value).toEqual({ amount: 5000, currency: 'EUR' });
    expect(rig.reader.stats.echoErrors).toBe(1);
    expect(rig.applet.terminal().stats.badBlocks).toBeGreaterThanOrEqual(1);
  });

  test('a card that stops answering: R-blocks, then S(RESYNCH) ×3, then CARD_ERROR and deactivation; the next call works', async () => {
    const { rig, card, p } = await opened({ bwtMs: 150 });
    card.onTransmit = () => undefined;
    const r = await rig.call((cb) => rig.applet.balance(cb));
    expect(r.err).toMatchObject({ code: ErrorCode.CARD_ERROR, reason: 'T1:DEACTIVATE' });
    expect(rig.reader.powered()).toBe(false);
    const blocks = wireBlocks(rig);
    expect(blocks.filter((b) => b.kind === 'S' && b.type === 0 && !b.response).length).toBe(3);
    expect(rig.device.pins.read('B3')).toBe(1);
    await rig.remove();
    await rig.insert(new EmulatedCard(p.nv, { clock: () => lineClock.t }));
    expect((await rig.call((cb) => rig.applet.balance(cb))).value).toEqual({ amount: 5000, currency: 'EUR' });
  });

  test('resynchronisation succeeds: RESYNCHRONISED (outcome unknown), IFSD announced again, then it works', async () => {
    const { rig, card } = await opened({ bwtMs: 150 });
    const send = card.onTransmit;
    let drop = 4; // the answer and its 3 repetitions are lost; the RESYNCH answer gets through
    card.onTransmit = (b) => {
      if (drop-- > 0) return;
      send(b);
    };
    const r = await rig.call((cb) => rig.applet.balance(cb));
    expect(r.err).toMatchObject({ code: ErrorCode.CARD_ERROR, reason: 'T1:RESYNCHRONISED' });
    expect(rig.reader.powered()).toBe(true);
    rig.wire.length = 0;
    const b = await rig.call((cb) => rig.applet.balance(cb));
    expect(b.value).toEqual({ amount: 5000, currency: 'EUR' });
    expect(hexs(rig.wire[0])).toBe('00 C1 01 FE 3E');
  });
});

test('presence reflects the debounced detect switch', async () => {
  const rig = makeRig();
  const { card } = newCard();
  rig.device.insertCard(card);
  expect(rig.reader.present()).toBe(false); // 50 ms debounce
  await until(() => rig.reader.present(), 'debounced insert');
});
