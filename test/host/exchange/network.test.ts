// The line between the parties duplicates, reorders and delays messages; the third party
// crashes in the middle of a resolve. None of it gives anyone both items, or a second
// decision.

import { ArchiveStore, SqliteArchive } from '../../../host/src/services/archive';
import { memoryChannel } from '../../../host/src/transfer/channel';
import { openMessage, verifyDecision } from '../../../host/src/exchange/formats';
import { ThirdParty } from '../../../host/src/ttp/third-party';
import { line, payOffering, receiptOffering, rig, until } from './rig';

/** Bytes compared as bytes (decoders may decorate the arrays they read). */
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('every message of a run delivered twice: the duplicates are refused, the run completes once', async () => {
  const r = rig();
  const server = r.manager(r.merchant, { respond: () => receiptOffering(r.merchant) });
  const client = r.manager(r.buyer);
  const seen: Uint8Array[] = [];
  const twice = {
    async request(b: Uint8Array) {
      seen.push(b);
      const first = await server.m.handler(b);
      const second = await server.m.handler(b); // the duplicate
      expect(openMessage(second).msg.step).toBe('failed');
      return first;
    },
  };
  const out = await client.m.exchange(twice, { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 500, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true });
  expect(out.outcome).toBe('completed');
  expect(seen).toHaveLength(2);
  const finals = (await server.archive.list({ deal: out.exchangeId })).filter((x) => x.label?.startsWith('exchange final'));
  expect(finals).toHaveLength(1);
  expect(r.port.calls).toBe(0);
});

test('messages out of order (the payment before the agreement, an item replayed into another exchange) are refused', async () => {
  const r = rig();
  const server = r.manager(r.merchant, { respond: () => receiptOffering(r.merchant) });
  const client = r.manager(r.buyer);
  const first = await client.m.exchange(line(server.m), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 500, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true });
  const m2 = (await client.archive.list({ deal: first.exchangeId })).find((x) => x.label === 'exchange responderItem sent')!.evidence!;
  // replayed into the same exchange: it is over
  expect(openMessage(await server.m.handler(m2)).msg.step).toBe('failed');
  // a fresh exchange whose proposal was lost: its payment arrives first — there is no such exchange
  const lost = r.manager(r.buyer);
  const out = await lost.m.exchange(line(server.m, { dropRequestOf: 'propose' }), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 500, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true });
  expect(out.outcome).toBe('failed');
  const refusal = openMessage(await server.m.handler(m2));
  expect(refusal.msg.step).toBe('failed');
  expect(refusal.msg.body.get(1)).toBe('REFUSED');
});

test('the originator\u2019s item delayed past the responder\u2019s timeout (rev-rev): the responder aborted, the late item is refused, both payments end revoked', async () => {
  const r = rig();
  const server = r.manager(r.merchant, { respond: () => payOffering(r.merchant, 'acct-merchant', 300, 'acct-buyer'), stepTimeoutMs: 30 });
  const client = r.manager(r.buyer);
  const inner = memoryChannel(server.m.handler);
  const slow = {
    async request(b: Uint8Array, signal?: AbortSignal) {
      if (openMessage(b).msg.step === 'originatorItem') await new Promise((ok) => setTimeout(ok, 150));
      return inner.request(b, signal);
    },
  };
  const out = await client.m.exchange(slow, { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 500, 'acct-merchant'), want: payOffering(r.merchant, 'acct-merchant', 300, 'acct-buyer').description, fair: true });
  expect(out).toMatchObject({ protocol: 'rev-rev/1', outcome: 'pending' });
  await until(() => server.m.outcomeOf(out.exchangeId)?.outcome === 'aborted', 'the merchant\u2019s abort');
  r.clock.t = out.deadline + 1;
  const settled = await client.m.settle(out.exchangeId);
  expect(settled.outcome).toBe('aborted');
  expect(settled.refunds).toHaveLength(2);
});

test('the third party crashes between the request and the decision, and after the decision: one decision, the same bytes', async () => {
  const r = rig();
  const server = r.manager(r.merchant, { respond: () => receiptOffering(r.merchant) });
  const client = r.manager(r.buyer);
  r.port.down = true;
  const out = await client.m.exchange(line(server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 500, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true });
  expect(out.outcome).toBe('pending');
  const req = (await client.archive.list({ deal: out.exchangeId })).find((x) => x.label === 'exchange ttp resolve')!.evidence!;

  // 1: the process dies after archiving the request, before the decision
  const crashing = (a: SqliteArchive, when: 'ttp-decision'): ArchiveStore =>
    new Proxy(a, {
      get(t, p, recv) {
        if (p === 'append') return async (e: { kind: string }) => (e.kind === when ? Promise.reject(new Error('power cut')) : t.append(e as never));
        const v = Reflect.get(t, p, recv) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(t) : v;
      },
    }) as ArchiveStore;
  const dying = new ThirdParty({ identity: r.ttpId, archive: crashing(r.ttpArchive, 'ttp-decision'), modules: r.modules, now: r.clock.now });
  await expect(dying.handle(req)).rejects.toThrow('power cut');
  expect(await r.ttpArchive.list({ kind: 'ttp-decision' })).toHaveLength(0);

  // 2: restarted, it decides; asked again (the answer was lost), it gives the same bytes
  const restarted = new ThirdParty({ identity: r.ttpId, archive: r.ttpArchive, modules: r.modules, now: r.clock.now });
  const d1 = await restarted.handle(req);
  const again = new ThirdParty({ identity: r.ttpId, archive: r.ttpArchive, modules: r.modules, now: r.clock.now });
  expect(hex(await again.handle(req))).toBe(hex(d1));
  expect(await r.ttpArchive.list({ kind: 'ttp-decision' })).toHaveLength(1);
  expect(verifyDecision(d1, r.ttpId.publicKey).outcome).toBe('resolved');
  // the buyer's settle now gets that very decision
  r.port.down = false;
  const settled = await client.m.settle(out.exchangeId);
  expect(hex(settled.decision!)).toBe(hex(d1));
});

test('two resolves of one exchange at the same moment: one decision', async () => {
  const r = rig();
  const server = r.manager(r.merchant, { respond: () => receiptOffering(r.merchant) });
  const client = r.manager(r.buyer);
  r.port.down = true;
  const out = await client.m.exchange(line(server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 500, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true });
  const req = (await client.archive.list({ deal: out.exchangeId })).find((x) => x.label === 'exchange ttp resolve')!.evidence!;
  const answers = await Promise.all([r.ttp.handle(req), r.ttp.handle(req), r.ttp.handle(req)]);
  expect(new Set(answers.map(hex)).size).toBe(1);
  expect(await r.ttpArchive.list({ kind: 'ttp-decision' })).toHaveLength(1);
});
