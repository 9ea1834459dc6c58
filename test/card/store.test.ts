import { CardStore, MemoryNv, PowerCut, uintBytes } from '../../board/card/store';
import { SW } from '../../board/card/apdu';
import { INS } from '../../board/card/applet';
import { newPerso, Session } from './applet-helpers';

describe('CardStore transactions', () => {
  test('commit keeps, abort restores (including records that did not exist), nested begin refused', () => {
    const nv = new MemoryNv();
    const s = CardStore.open(nv);
    s.writeUint('a', 1, 4);
    s.begin();
    expect(() => s.begin()).toThrow();
    s.writeUint('a', 2, 4);
    s.writeUint('b', 9, 4);
    s.abort();
    expect(s.readUint('a')).toBe(1);
    expect(s.read('b')).toBeUndefined();
    s.begin();
    s.writeUint('a', 3, 4);
    s.writeUint('a', 4, 4); // second write of the same record: no second before-image
    s.commit();
    expect(s.readUint('a')).toBe(4);
    expect(CardStore.needsRecovery(nv)).toBe(false);
    expect(() => s.commit()).toThrow();
    expect(() => s.write('journal', new Uint8Array(1))).toThrow();
  });

  test('a cut leaves a journal; power-up rolls it back; writes after a cut fail until power-up', () => {
    const nv = new MemoryNv();
    const s = CardStore.open(nv);
    s.writeUint('x', 10, 8);
    s.begin();
    s.writeUint('x', 20, 8);
    nv.cutAfterWrites(1);
    expect(() => s.writeUint('y', 1, 8)).toThrow(PowerCut);
    expect(() => nv.write('z', new Uint8Array(1))).toThrow(PowerCut);
    expect(nv.powered).toBe(false);
    expect(CardStore.needsRecovery(nv)).toBe(true);
    nv.powerUp();
    const s2 = CardStore.open(nv);
    expect(s2.readUint('x')).toBe(10);
    expect(CardStore.needsRecovery(nv)).toBe(false);
  });

  test('uintBytes range checks', () => {
    expect(() => uintBytes(256, 1)).toThrow(RangeError);
    expect(() => uintBytes(-1, 4)).toThrow(RangeError);
    expect(uintBytes(2 ** 53 - 1, 8)).toEqual(Uint8Array.of(0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  });

  test('an unexpected fault inside a command answers 6F00 and rolls back', () => {
    const p = newPerso(500);
    const s = new Session(p.nv);
    s.select();
    s.verify('1234');
    // corrupt the log count record so that appending the log entry fails mid-transaction
    p.nv.records.set('log.count', uintBytes(2 ** 40, 8));
    expect(s.debit(100).sw).toBe(SW.UNKNOWN);
    p.nv.records.set('log.count', uintBytes(0, 4));
    expect(Buffer.from(s.send(0x80, INS.BALANCE, 0, 0).data.slice(0, 8)).readBigUInt64BE()).toBe(500n);
  });

  test('the longest payment token stays within SPEC §5.9 (512 bytes)', () => {
    const p = newPerso(500);
    const s = new Session(p.nv);
    s.select();
    s.verify('1234');
    const r = s.debit(500, 'é'.repeat(32)); // 64 bytes of UTF-8
    expect(r.sw).toBe(SW.OK);
    expect(r.data.length).toBeLessThanOrEqual(512);
    console.log(`payment token with a 64-byte payee: ${r.data.length} bytes`);
  });
});
