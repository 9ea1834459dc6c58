// The card pulled and the power cut in the middle of a debit: at the PIN prompt, and right
// after OK while the card works (and in the middle of a registration's new key). Afterwards (the same card re-inserted, the device rebooted
// from the same flash where the power went) the balance and the card's own log agree, and
// the host was told the truth: the request ended with NO_CARD / CARD_ERROR / a lost link —
// never success without a debit in the log, and a debit in the log only with a success or
// a failure the host reconciles by READ_LOG (SPEC.md §3.8, §5.9).

import { EmulatedDevice } from '../../board/emulator/device';
import { INS, PurseApplet, R } from '../../board/card/applet';
import { CardStore } from '../../board/card/store';
import { encodeCanonical, HostCbor } from '../../shared/src/cbor';
import { DeviceError, DeviceLink } from '../../host/src/link/device-link';
import { ErrorCode, MsgType } from '../../protocol/src/messages';
import { closeAll, deviceRig, DeviceRig, firmwareText, sleep, until } from '../helpers/device-rig';

jest.setTimeout(60000);

const PIN = '4862';
const START = 5000;
const PAYMENT = encodeCanonical(
  new Map<number, HostCbor>([
    [1, 1],
    [2, 'Order 4711'],
    [3, [1250, 'EUR']],
    [4, 'Shop GmbH'],
    [6, 'INV-4711'],
  ]),
);

let onCommand: ((ins: number) => void) | null = null;
const process0 = PurseApplet.prototype.process;
beforeAll(() => {
  PurseApplet.prototype.process = function (this: PurseApplet, apdu: Uint8Array): Uint8Array {
    if (onCommand && apdu.length >= 4) onCommand(apdu[1]);
    return process0.call(this, apdu);
  };
});
afterAll(() => {
  PurseApplet.prototype.process = process0;
});
const extra: { close(): void }[] = [];
afterEach(() => {
  onCommand = null;
  for (const e of extra.splice(0)) e.close();
  closeAll();
});

interface Outcome {
  ok: boolean;
  code: string;
  wire?: number;
}
async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    await p;
    return { ok: true, code: 'ok' };
  } catch (e) {
    const d = e as DeviceError;
    return { ok: false, code: d.code, wire: d.wireCode };
  }
}

/** The PIN never crossed the link, in either direction. */
function pinNotOnTheLink(rig: DeviceRig, more: Uint8Array[] = []): void {
  const { fromDevice, fromHost } = rig.traffic();
  const block = Buffer.alloc(8, 0xff);
  block.write(PIN, 'latin1');
  for (const buf of [fromDevice, fromHost, Buffer.concat(more.map((b) => Buffer.from(b)))]) {
    expect(buf.includes(Buffer.from(PIN, 'latin1'))).toBe(false);
    expect(buf.includes(block)).toBe(false);
  }
}

/** Starts a debit and brings it to the PIN prompt. */
async function toPinPrompt(rig: DeviceRig): Promise<{ p: Promise<Outcome> }> {
  const p = outcome(rig.host.request(MsgType.PURSE_DEBIT, { statement: PAYMENT }));
  await rig.waitFor(/PAYMENT/);
  await rig.scrollTo(/-- end --/);
  await rig.press('OK');
  await rig.waitFor(/Enter your PIN/);
  return { p }; // (wrapped: an async function returning the promise would wait for it)
}

/** What the card says now, read over a (new) host link: balance and log. */
async function cardState(host: DeviceLink): Promise<{ balance: number; debits: { amount: number; party: string }[] }> {
  const bal = (await host.request(MsgType.PURSE_BALANCE, {})) as { balance: { amount: number } };
  const log = (await host.request(MsgType.READ_LOG, {})) as { entries: { kind: number; amount: number; party: string }[] };
  return { balance: bal.balance.amount, debits: log.entries.filter((e) => e.kind === 1) };
}

/** Balance and log agree, and what the host was told is true of them. */
function consistent(told: Outcome, state: { balance: number; debits: { amount: number }[] }): void {
  console.log(`interruption: host told ${told.code}${told.wire ? ` (${told.wire})` : ''}; card balance ${state.balance}, ${state.debits.length} debit(s) in its log`);
  const paid = state.debits.reduce((s, d) => s + d.amount, 0);
  expect(state.balance + paid).toBe(START);
  expect(state.debits.length).toBeLessThanOrEqual(1);
  if (told.ok) expect(state.debits.length).toBe(1); // never success without a debit
  // a debit without success: only with a failure that sends the host to READ_LOG
  if (state.debits.length && !told.ok) expect(['NO_CARD', 'CARD_ERROR', 'LINK_RESET', 'LINK_LOST', 'CLOSED', 'DEVICE_TIMEOUT']).toContain(told.code);
}

/**
 * At the PIN prompt: types the PIN and OK, and pulls the card as command `ins` reaches it — the
 * card may finish it, its answer is lost (nothing more leaves the card), and the slot's switch
 * opens right after. The host must be told a failure; the card goes back in and the device to idle.
 */
async function pulledAt(rig: DeviceRig, ins: number, p: Promise<Outcome>): Promise<Outcome> {
  onCommand = (i) => {
    if (i === ins) {
      onCommand = null;
      rig.device.card!.onTransmit = () => undefined;
      setImmediate(() => rig.device.removeCard());
    }
  };
  await rig.type(PIN);
  await rig.press('OK');
  const told = await p;
  expect(told.ok).toBe(false);
  expect(['NO_CARD', 'CARD_ERROR']).toContain(told.code);
  rig.device.insertCard(rig.card!);
  await rig.waitFor(/Erika Mustermann/);
  return told;
}

describe('card pulled during a debit', () => {
  test('at the PIN prompt: NO_CARD, nothing paid; re-inserted, balance and log unchanged', async () => {
    const rig = await deviceRig({ pin: PIN, balance: START });
    const { p } = await toPinPrompt(rig);
    await rig.type(PIN.slice(0, 2));
    rig.device.removeCard();
    const told = await p;
    expect([told.code, told.wire]).toEqual(['NO_CARD', ErrorCode.NO_CARD]);
    await rig.waitFor(/card/i);
    // the rest of the PIN, typed into whatever is on screen, goes nowhere
    await rig.type(PIN.slice(2));
    await rig.press('OK');
    rig.device.insertCard(rig.card!);
    await rig.waitFor(/Erika Mustermann/);
    const s = await cardState(rig.host);
    expect(s).toEqual({ balance: START, debits: [] });
    consistent(told, s);
    pinNotOnTheLink(rig);
  });

  for (const [when, ins] of [
    ['while the card verifies the PIN', INS.VERIFY],
    ['while the card debits', INS.DEBIT],
  ] as [string, number][]) {
    test(`right after OK, ${when}: the host is told a failure it can reconcile with READ_LOG`, async () => {
      const rig = await deviceRig({ pin: PIN, balance: START });
      const { p } = await toPinPrompt(rig);
      const told = await pulledAt(rig, ins, p);
      const s = await cardState(rig.host);
      consistent(told, s);
      if (ins === INS.VERIFY) expect(s.debits).toEqual([]);
      pinNotOnTheLink(rig);
    });
  }
});

describe('power cut during a debit', () => {
  /** Power off, boot again from the same flash with the same card in the slot, connect a new host. */
  async function reboot(rig: DeviceRig): Promise<{ device: EmulatedDevice; host: DeviceLink }> {
    rig.device.powerOff();
    const device = new EmulatedDevice({ firmware: firmwareText(), flash: rig.device.flash, onConsole: () => {} });
    const host = new DeviceLink(device.usb);
    extra.push({ close: () => (host.close(), device.powerOff()) });
    device.insertCard(rig.card!);
    device.powerOn();
    await host.connect({ timeoutMs: 5000 });
    await until(() => /Erika Mustermann/.test(device.screenText()), 'the card read after the reboot');
    return { device, host };
  }

  for (const [when, ins] of [
    ['at the PIN prompt', -1],
    ['right after OK, while the card verifies the PIN', INS.VERIFY],
    ['right after OK, while the card debits', INS.DEBIT],
  ] as [string, number][]) {
    test(`${when}: after the reboot balance and log agree with what the host was told`, async () => {
      const rig = await deviceRig({ pin: PIN, balance: START });
      const { p } = await toPinPrompt(rig);
      if (ins < 0) {
        await rig.type(PIN.slice(0, 3));
        rig.device.powerOff();
      } else {
        onCommand = (i) => {
          if (i === ins) {
            onCommand = null;
            // the power goes: the firmware stops, the card finishes what it was given (its
            // NV transaction) but its answer reaches no one, then it is unpowered too
            rig.device.powerOff();
            rig.device.card!.onTransmit = () => undefined;
            setImmediate(() => rig.card!.powerOff());
          }
        };
        await rig.type(PIN);
        await rig.press('OK');
        await until(() => onCommand === null, 'the card command');
      }
      // the old host loses the link: it closes after its timeout, here at once
      await sleep(50);
      rig.host.close();
      const told = await p;
      expect(told.ok).toBe(false);
      const { host, device } = await reboot(rig);
      const s = await cardState(host);
      consistent(told, s);
      if (ins !== INS.DEBIT) expect(s).toEqual({ balance: START, debits: [] });
      // the device starts idle: nothing of the old operation survives the reboot
      expect(device.screenText()).toMatch(/Erika Mustermann/);
      expect(device.screenText()).not.toMatch(/PIN|PAYMENT/);
      pinNotOnTheLink(rig, device.usbTraffic);
    });
  }
});

describe('card pulled during a registration with a new key', () => {
  const REGISTRATION = encodeCanonical(new Map<number, HostCbor>([[1, 2], [2, 'Registration'], [7, 'Register this card with the code 1234-ABCD-5678-EF90']]));
  for (const [when, ins] of [
    ['while the card makes the key', INS.GENERATE_KEY_PAIR],
    ['while the card signs with it', INS.PSO],
  ] as [string, number][]) {
    test(`${when}: the host is told a failure, never a key; the card holds either its old key and certificate or a new key without one`, async () => {
      const rig = await deviceRig({ pin: PIN, balance: START });
      const key0 = Buffer.from(rig.persona.publicKey);
      const p = outcome(rig.host.request(MsgType.SIGN, { statement: REGISTRATION, newKey: true }));
      await rig.waitFor(/NEW KEY/);
      await rig.scrollTo(/-- end --/);
      await rig.press('OK');
      await rig.waitFor(/Enter your PIN/);
      const told = await pulledAt(rig, ins, p);
      // what the card holds: its own records are the truth here
      const store = CardStore.open(rig.persona.nv);
      const key = Buffer.from(store.read(R.pub) as Uint8Array);
      const cert = store.read(R.cert);
      if (key.equals(key0)) expect(cert?.length ?? 0).toBeGreaterThan(0);
      else expect(cert?.length ?? 0).toBe(0);
      if (ins === INS.PSO) expect(key.equals(key0)).toBe(false); // the key was made before the signature
      console.log(`registration interrupted ${when}: host told ${told.code}; card ${key.equals(key0) ? 'kept its key and certificate' : 'has a new key, no certificate'}`);
      pinNotOnTheLink(rig);
    });
  }
});
