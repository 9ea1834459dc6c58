import { encodeCommand, parseResponse, ResponseApdu } from '../../board/card/apdu';
import { AID, encodeDebit, INS, pinBlock, PurseApplet } from '../../board/card/applet';
import { KeyPair, personalise, Personalised, testCa, testIssuer } from '../../board/card/personalise';
import { CardStore, MemoryNv } from '../../board/card/store';

export const CA: KeyPair = testCa('jest');
export const ISSUER: KeyPair = testIssuer('jest');
export const CARD_ID = Uint8Array.of(0x53, 0x45, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x01);

export function newPerso(balance = 10_000): Personalised & { nv: MemoryNv } {
  const p = personalise({ holder: 'Alice Example', pin: '1234', puk: '12345678', balance, currency: 'EUR', maxBalance: 50_000, cardId: CARD_ID, ca: CA, issuer: ISSUER, issuerName: 'Test Bank' });
  return p as Personalised & { nv: MemoryNv };
}

export class Session {
  applet: PurseApplet;
  constructor(readonly nv: MemoryNv) {
    this.applet = new PurseApplet(CardStore.open(nv));
  }
  /** Power cycle / card pulled and reinserted: recovery + fresh volatile state. */
  repower(): void {
    this.nv.powerUp();
    this.applet = new PurseApplet(CardStore.open(this.nv));
  }
  send(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, ne?: number): ResponseApdu {
    return parseResponse(this.applet.process(encodeCommand({ cla, ins, p1, p2, data, ne })));
  }
  select(): ResponseApdu {
    return this.send(0, INS.SELECT, 4, 0, AID, 256);
  }
  verify(pin: string): ResponseApdu {
    return this.send(0, INS.VERIFY, 0, 0x81, pinBlock(pin));
  }
  debit(amount: number, payee = 'Shop', currency = 'EUR', digest: Uint8Array = new Uint8Array(32).fill(0xab), time = 1_700_000_000): ResponseApdu {
    return this.send(0x80, INS.DEBIT, 0, 0, encodeDebit({ amount, currency, payee, txDigest: digest, time }), 256);
  }
  load(instruction: Uint8Array): ResponseApdu {
    return this.send(0x80, INS.LOAD, 0, 0, instruction, 256);
  }
}
