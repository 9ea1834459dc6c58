// Openness (SEMPER §3.6): managers with modules by name and version, adapters for existing
// systems, negotiation of a common module (first of the initiator's preference that the
// responder offers; deterministic; NO_COMMON_MODULE otherwise), and the statement manager.

import fc from 'fast-check';
import { TransferError } from '../../../host/src/transfer/errors';
import { Adapter, attach, moduleRef, negotiate, ServiceManager, ServiceModule } from '../../../host/src/transfer/openness';
import { StatementManager } from '../../../host/src/transfer/statement';
import { key } from '../bank/rig';

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof TransferError) return e.code;
    throw e;
  }
  return undefined;
}

const mod = (name: string, version = 1, type = 'cash-like'): ServiceModule => ({ info: { name, version, type } });

test('the first module of the initiator’s preference that the responder offers wins', () => {
  expect(negotiate(['device-purse/1', 'account/1'], ['account/1', 'device-purse/1'])).toBe('device-purse/1');
  expect(negotiate(['account/1', 'device-purse/1'], ['device-purse/1', 'account/1'])).toBe('account/1');
  expect(negotiate(['ecash/2', 'account/1'], ['ecash/1', 'account/1'])).toBe('account/1'); // versions must match
  expect(code(() => negotiate(['ecash/2'], ['ecash/1', 'account/1']))).toBe('NO_COMMON_MODULE');
  expect(code(() => negotiate([], ['account/1']))).toBe('NO_COMMON_MODULE');
  expect(code(() => negotiate(['account/1', 'account/1'], ['account/1']))).toBe('MALFORMED');
  expect(code(() => negotiate(['Account'], ['account/1']))).toBe('MALFORMED');
});

test('property: both sides compute the same module, which both offer, and none earlier in the initiator’s list is common', () => {
  const refs = fc.uniqueArray(fc.constantFrom('a/1', 'a/2', 'b/1', 'c/1', 'd/3', 'e/1'), { maxLength: 6 });
  fc.assert(
    fc.property(refs, refs, (mine, theirs) => {
      const common = mine.filter((r) => theirs.includes(r));
      if (common.length === 0) return expect(code(() => negotiate(mine, theirs))).toBe('NO_COMMON_MODULE');
      const pick = negotiate(mine, theirs);
      expect(pick).toBe(common[0]);
      // the responder, running the same function with the roles named, gets the same answer
      const responder = new ServiceManager<ServiceModule>('x');
      for (const r of theirs) responder.register(mod(r.split('/')[0], Number(r.split('/')[1])));
      expect(moduleRef(responder.negotiate(mine, 'responder').info)).toBe(pick);
    }),
  );
});

test('a manager: modules attached and detached by name/version, preference order, duplicates refused', () => {
  const m = new ServiceManager<ServiceModule>('payment');
  m.register(mod('account', 1, 'account-based')).register(mod('device-purse')).register(mod('device-purse', 2));
  expect(code(() => m.register(mod('account', 1)))).toBe('DUPLICATE_MODULE');
  expect(m.offer()).toEqual(['account/1', 'device-purse/1', 'device-purse/2']);
  m.prefer(['device-purse/2']);
  expect(m.offer()).toEqual(['device-purse/2', 'account/1', 'device-purse/1']);
  expect(m.get('device-purse').info.version).toBe(2);
  expect(m.offer((x) => x.info.type === 'account-based')).toEqual(['account/1']);
  m.unregister('device-purse/2');
  expect(code(() => m.get('device-purse/2'))).toBe('UNKNOWN_MODULE');
  expect(code(() => m.unregister('device-purse/2'))).toBe('UNKNOWN_MODULE');
  expect(code(() => m.negotiate(['set/1'], 'initiator'))).toBe('NO_COMMON_MODULE');
  expect(m.list().map((i) => i.name)).toEqual(['account', 'device-purse']);
});

test('an adapter makes an existing system a module of the manager', () => {
  // an "existing product" with its own interface
  const legacy = { id: 'LegacyPay', charge: (cents: number) => `charged ${cents}` };
  interface Payer extends ServiceModule {
    pay(amount: number): string;
  }
  const adapter: Adapter<typeof legacy, Payer> = {
    info: { name: 'legacy-pay', version: 3, type: 'account-based', vendor: 'LegacyPay Inc.' },
    adapt: (l) => ({ info: adapter.info, pay: (a) => l.charge(a) }),
  };
  const m = new ServiceManager<Payer>('payment');
  attach(m, adapter, legacy);
  expect(m.negotiate(['legacy-pay/3'], 'responder').pay(500)).toBe('charged 500');
  const liar: Adapter<typeof legacy, Payer> = { ...adapter, adapt: (l) => ({ info: { ...adapter.info, version: 4 }, pay: (a) => l.charge(a) }) };
  expect(code(() => attach(new ServiceManager<Payer>('payment'), liar, legacy))).toBe('MALFORMED');
});

test('the statement manager: formats as modules; a statement verifies only with its signer’s key', () => {
  const s = new StatementManager();
  const k = key('statement signer');
  const item = s.sign('semper-statement/1', { subject: 'offer 42', text: 'one book, 12.50 EUR', time: 1_780_000_000 }, k.privateKey);
  expect(item.format).toBe('semper-statement/1');
  expect(s.verify(item, k.publicKey)).toEqual({ subject: 'offer 42', text: 'one book, 12.50 EUR', time: 1_780_000_000 });
  expect(code(() => s.verify(item, key('other').publicKey))).toBe('INTEGRITY');
  const raw = s.sign('cose-bytes', Uint8Array.of(1, 2), k.privateKey);
  expect(Buffer.from(s.verify(raw, k.publicKey) as Uint8Array)).toEqual(Buffer.from([1, 2]));
  expect(code(() => s.verify({ ...raw, format: 'semper-statement/1' }, k.publicKey))).toBe('MALFORMED');
  expect(negotiate(s.offer(), ['cose-bytes/1'])).toBe('cose-bytes/1');
});
