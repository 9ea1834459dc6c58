// Everything the exchange layer and the third party parse comes from outside (a peer, the
// network): random bytes and every single-byte change of real messages must end in a typed
// ExchangeError (or a verified, unchanged object) — never another exception, never a state
// change at the third party, never an unsigned answer from a party's handler.

import fc from 'fast-check';
import { ExchangeError } from '../../../host/src/exchange/errors';
import { openAgreement, openMessage, openTtpRequest, verifyDecision } from '../../../host/src/exchange/formats';
import { infoOffering, line, payOffering, receiptOffering, rig } from './rig';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

function onlyTyped(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof ExchangeError)) throw e;
  }
}

async function onlyTypedAsync(f: () => Promise<unknown>): Promise<'refused' | 'answered'> {
  try {
    await f();
    return 'answered';
  } catch (e) {
    if (!(e instanceof ExchangeError)) throw e;
    return 'refused';
  }
}

/** Real wire bytes of one run that needed the third party: messages, a resolve request, a decision. */
async function corpus() {
  const r = rig();
  const server = r.manager(r.merchant, { respond: () => receiptOffering(r.merchant) });
  const client = r.manager(r.buyer);
  const out = await client.m.exchange(line(server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 100, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true });
  const recs = await client.archive.list({ deal: out.exchangeId });
  const ev = (label: string) => recs.find((x) => x.label === label)!.evidence!;
  const agreement = openMessage(ev('exchange agreement received')).msg.body.get(1) as Uint8Array;
  return { r, messages: recs.filter((x) => / (sent|received)$/.test(x.label ?? '')).map((x) => x.evidence!), request: ev('exchange ttp resolve'), decision: out.decision!, agreement };
}

test('random bytes: every parser answers with an ExchangeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      onlyTyped(() => openMessage(b));
      onlyTyped(() => openTtpRequest(b));
      onlyTyped(() => openAgreement(b));
      onlyTyped(() => verifyDecision(b, new Uint8Array(65).fill(4)));
    }),
    { numRuns: RUNS * 3 },
  );
});

test('one changed byte in a real agreement, message, request or decision: refused or unchanged', async () => {
  const c = await corpus();
  const samples = [c.agreement, c.request, c.decision, ...c.messages];
  fc.assert(
    fc.property(fc.nat(samples.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), (which, at, x) => {
      const b = samples[which].slice();
      b[at % b.length] ^= x;
      onlyTyped(() => openAgreement(b));
      onlyTyped(() => openMessage(b));
      onlyTyped(() => openTtpRequest(b));
      // a decision is either refused or, if the change hit nothing signed (impossible: it is all signed), identical
      try {
        const d = verifyDecision(b, c.r.ttpId.publicKey);
        expect(d).toEqual(verifyDecision(c.decision, c.r.ttpId.publicKey));
      } catch (e) {
        if (!(e instanceof ExchangeError)) throw e;
      }
    }),
    { numRuns: RUNS * 3 },
  );
});

test('the third party: a changed request is refused with a typed error and stores nothing (or gets the stored answer)', async () => {
  const c = await corpus();
  const stored = (await c.r.ttpArchive.list()).length;
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (at, x) => {
      const b = c.request.slice();
      b[at % b.length] ^= x;
      const what = await onlyTypedAsync(async () => {
        const answer = await c.r.ttp.handle(b);
        // only possible if the change left a valid signed request: then it is the stored, final decision
        expect(answer).toEqual(c.decision);
      });
      expect(['refused', 'answered']).toContain(what);
      expect((await c.r.ttpArchive.list()).length).toBe(stored);
    }),
    { numRuns: RUNS },
  );
});

test('a party\u2019s handler: garbage in, a signed refusal out, no session created', async () => {
  const r = rig();
  const server = r.manager(r.merchant, { respond: () => infoOffering(new Uint8Array([1, 2, 3])) });
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (b) => {
      const answer = await server.m.handler(b);
      const { msg, sign1 } = openMessage(answer);
      expect(msg.step).toBe('failed');
      const { checkSignature } = await import('../../../host/src/exchange/formats');
      checkSignature(sign1, r.merchant.publicKey, 'refusal');
    }),
    { numRuns: RUNS },
  );
  expect(await server.archive.list()).toHaveLength(0);
});
