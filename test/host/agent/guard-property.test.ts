// Property tests for the parsers of outside input in the agent: the Host and Origin headers,
// the tokens, the purchase body and the WebSocket frame reader. Whatever arrives, the answer
// is a typed refusal or a value that satisfies the rules — never another exception.

import fc from 'fast-check';
import { AgentError } from '../../../host/src/agent/errors';
import { AgentSecrets, checkHost, checkJsonContentType, MAX_ORIGIN, requestOrigin } from '../../../host/src/agent/guard';
import { parsePurchaseRequest } from '../../../host/src/agent/purchases';
import { acceptKey, encodeFrame, FrameError, FrameReader, OP } from '../../../host/src/agent/websocket';

const PORT = 37139;
const refusedWith = (f: () => unknown, code: string): boolean => {
  try {
    f();
    return false;
  } catch (e) {
    return e instanceof AgentError && e.code === code;
  }
};

test('Host: exactly 127.0.0.1:<port> or localhost:<port> (any case), one header, nothing else', () => {
  expect(() => checkHost([`127.0.0.1:${PORT}`], PORT)).not.toThrow();
  expect(() => checkHost([`LocalHost:${PORT}`], PORT)).not.toThrow();
  for (const bad of [undefined, [], [`127.0.0.1:${PORT}`, `127.0.0.1:${PORT}`], ['127.0.0.1'], [`127.0.0.1:${PORT}.`], [`127.0.0.1.:${PORT}`], [`[::1]:${PORT}`], [`127.0.0.2:${PORT}`], [`localhost.:${PORT}`], [`0x7f000001:${PORT}`], [`2130706433:${PORT}`], [` 127.0.0.1:${PORT}`]]) {
    expect(refusedWith(() => checkHost(bad, PORT), 'BAD_HOST')).toBe(true);
  }
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }), (values) => {
      const ok = values.length === 1 && [`127.0.0.1:${PORT}`, `localhost:${PORT}`].includes(values[0].toLowerCase());
      return ok ? (checkHost(values, PORT), true) : refusedWith(() => checkHost(values, PORT), 'BAD_HOST');
    }),
    { numRuns: 2000 },
  );
});

test('Origin: absent → undefined; otherwise a serialised http(s) origin, exactly, or BAD_ORIGIN', () => {
  expect(requestOrigin(undefined)).toBeUndefined();
  expect(requestOrigin([])).toBeUndefined();
  expect(requestOrigin(['https://shop.example'])).toBe('https://shop.example');
  expect(requestOrigin(['http://127.0.0.1:8080'])).toBe('http://127.0.0.1:8080');
  for (const bad of ['null', 'https://shop.example/', 'https://Shop.example', 'https://shop.example:443', 'file://', 'chrome-extension://abc', 'https://u@shop.example', 'https://shop.example?x', `https://${'a'.repeat(MAX_ORIGIN)}.example`]) {
    expect(refusedWith(() => requestOrigin([bad]), 'BAD_ORIGIN')).toBe(true);
  }
  expect(refusedWith(() => requestOrigin(['https://a.example', 'https://a.example']), 'BAD_ORIGIN')).toBe(true);
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.webUrl(), fc.webUrl().map((u) => new URL(u).origin)), (raw) => {
      let got: string | undefined;
      try {
        got = requestOrigin([raw]);
      } catch (e) {
        return e instanceof AgentError && e.code === 'BAD_ORIGIN';
      }
      // accepted only as it was sent, and only as what the URL standard calls its origin
      return got === raw && new URL(raw).origin === raw && /^https?:\/\//.test(raw) && raw.length <= MAX_ORIGIN;
    }),
    { numRuns: 3000 },
  );
});

test('content type: application/json only', () => {
  expect(() => checkJsonContentType('application/json')).not.toThrow();
  expect(() => checkJsonContentType('Application/JSON; charset=utf-8')).not.toThrow();
  for (const bad of [undefined, '', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/json-seq', 'text/json', 'application/jsonx']) {
    expect(refusedWith(() => checkJsonContentType(bad), 'BAD_CONTENT_TYPE')).toBe(true);
  }
});

test('tokens: bound to their origin, to this run, and compared whole', () => {
  const s = new AgentSecrets();
  const t = s.originToken('https://shop.example');
  expect(() => s.checkOriginToken('https://shop.example', t)).not.toThrow();
  expect(refusedWith(() => s.checkOriginToken('https://other.example', t), 'BAD_TOKEN')).toBe(true);
  expect(refusedWith(() => new AgentSecrets().checkOriginToken('https://shop.example', t), 'BAD_TOKEN')).toBe(true);
  expect(() => s.checkLocal(`Bearer ${s.localToken}`)).not.toThrow();
  expect(refusedWith(() => s.checkLocal(s.localToken), 'LOCAL_TOKEN_REQUIRED')).toBe(true);
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (x) => x === t || refusedWith(() => s.checkOriginToken('https://shop.example', x), 'BAD_TOKEN')),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.nat({ max: t.length - 1 }), (cut) => refusedWith(() => s.checkOriginToken('https://shop.example', t.slice(0, cut)), 'BAD_TOKEN')),
  );
});

test('purchase body: exactly the documented fields, integer minor units, known currency; anything else BAD_REQUEST', () => {
  expect(parsePurchaseRequest({ offer: 'https://shop.example/o/1', amount: { amount: 1250, currency: 'EUR' }, reference: 'Order 7' })).toEqual({
    offer: 'https://shop.example/o/1',
    amount: { amount: 1250, currency: 'EUR' },
    reference: 'Order 7',
  });
  for (const bad of [
    null,
    [],
    'x',
    {},
    { offer: 'o', amount: { amount: 12.5, currency: 'EUR' } },
    { offer: 'o', amount: { amount: 0, currency: 'EUR' } },
    { offer: 'o', amount: { amount: '1250', currency: 'EUR' } },
    { offer: 'o', amount: { amount: 1250, currency: 'eur' } },
    { offer: 'o', amount: { amount: 1250, currency: 'XXX1' } },
    { offer: 'o', amount: { amount: 1250, currency: 'EUR', extra: 1 } },
    { offer: '', amount: { amount: 1, currency: 'EUR' } },
    { offer: 'o\u0000', amount: { amount: 1, currency: 'EUR' } },
    { offer: 'o', amount: { amount: 1, currency: 'EUR' }, payee: 'x'.repeat(65) },
    { offer: 'o', amount: { amount: 1, currency: 'EUR' }, admin: true },
  ]) {
    expect(refusedWith(() => parsePurchaseRequest(bad), 'BAD_REQUEST')).toBe(true);
  }
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        const r = parsePurchaseRequest(v);
        return Number.isSafeInteger(r.amount.amount) && r.amount.amount > 0 && /^[A-Z]{3}$/.test(r.amount.currency) && r.offer.length >= 1 && r.offer.length <= 512;
      } catch (e) {
        return e instanceof AgentError && e.code === 'BAD_REQUEST';
      }
    }),
    { numRuns: 3000 },
  );
});

test('WebSocket frames: RFC 6455 accept key; masked frames round-trip in any split; garbage is a FrameError', () => {
  expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo='); // RFC 6455 §1.3
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(), (payloads, mask, cut) => {
      const wire = Buffer.concat(payloads.map((p) => encodeFrame(OP.binary, p, mask)));
      const r = new FrameReader(true, 1024);
      const at = wire.length ? cut % wire.length : 0;
      const frames = [...r.push(wire.subarray(0, at)), ...r.push(wire.subarray(at))];
      return frames.length === payloads.length && frames.every((f, i) => f.fin && f.opcode === OP.binary && Buffer.from(payloads[i]).equals(f.payload));
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        new FrameReader(true, 64).push(Buffer.from(bytes));
        return true;
      } catch (e) {
        return e instanceof FrameError;
      }
    }),
    { numRuns: 3000 },
  );
  // unmasked client frames and oversize frames are refused
  expect(() => new FrameReader(true).push(encodeFrame(OP.text, Buffer.from('hi')))).toThrow(FrameError);
  expect(() => new FrameReader(true, 10).push(encodeFrame(OP.text, Buffer.alloc(11), Buffer.alloc(4)))).toThrow(FrameError);
});
