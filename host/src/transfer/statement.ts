// The statement manager (SEMPER §3.3 "statements which include digital signatures and data")
// and its modules: statement formats, each a way to sign and verify a document.
//
//   semper-statement/1: COSE_Sign1 (ES256) over canonical CBOR
//                       {1: "semper-statement", 2: subject (tstr), 3: text (tstr), 4: time (uint, s)}
//   cose-bytes/1:       COSE_Sign1 (ES256) over the document's bytes as they are
//
// A new format is a new module; peers negotiate the format like any other module.

import { encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { CoseError, decodeMapStrict, signSign1, verifySign1 } from '../../../shared/src/cose';
import { TransferError } from './errors';
import { StatementItem, statement } from './items';
import { moduleRef, ServiceManager, ServiceModule } from './openness';

export interface StatementContent {
  subject: string;
  text: string;
  /** Seconds since 1970. */
  time: number;
}

export interface StatementModule extends ServiceModule {
  sign(content: Uint8Array | StatementContent, privateKey: Uint8Array): Uint8Array;
  /** The content of a document that verifies under `publicKey`; INTEGRITY otherwise. */
  verify(document: Uint8Array, publicKey: Uint8Array): Uint8Array | StatementContent;
}

function checked<T>(f: () => T, code: 'INTEGRITY' | 'MALFORMED' = 'INTEGRITY'): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CoseError) throw new TransferError(code, `statement ${code === 'INTEGRITY' ? 'does not verify' : 'is not the format'}: ${e.code}`);
    throw e;
  }
}

export const semperStatement: StatementModule = {
  info: { name: 'semper-statement', version: 1, type: 'signed-document' },
  sign(c, key) {
    if (c instanceof Uint8Array || typeof c.subject !== 'string' || typeof c.text !== 'string' || !Number.isSafeInteger(c.time) || c.time < 0) throw new TransferError('MALFORMED', 'semper-statement/1 signs {subject, text, time}');
    return signSign1(encodeCanonical(new Map<number, HostCbor>([[1, 'semper-statement'], [2, c.subject], [3, c.text], [4, c.time]])), key);
  },
  verify(doc, pub) {
    const payload = checked(() => verifySign1(doc, pub).payload);
    const m = checked(() => decodeMapStrict(payload), 'MALFORMED');
    const [tag, subject, text, time] = [m.get(1), m.get(2), m.get(3), m.get(4)];
    if (m.size !== 4 || tag !== 'semper-statement' || typeof subject !== 'string' || typeof text !== 'string' || typeof time !== 'number' || time < 0) throw new TransferError('MALFORMED', 'not a semper-statement/1 payload');
    return { subject, text, time };
  },
};

export const coseBytes: StatementModule = {
  info: { name: 'cose-bytes', version: 1, type: 'signed-document' },
  sign(c, key) {
    if (!(c instanceof Uint8Array)) throw new TransferError('MALFORMED', 'cose-bytes/1 signs bytes');
    return signSign1(c, key);
  },
  verify(doc, pub) {
    return checked(() => verifySign1(doc, pub).payload);
  },
};

export class StatementManager extends ServiceManager<StatementModule> {
  constructor(modules: StatementModule[] = [semperStatement, coseBytes]) {
    super('statement');
    for (const m of modules) this.register(m);
  }

  /** Signs `content` with the module `ref` and wraps it as a statement item. */
  sign(ref: string, content: Uint8Array | StatementContent, privateKey: Uint8Array): StatementItem {
    const m = this.get(ref);
    return statement(moduleRef(m.info), m.sign(content, privateKey));
  }

  /** Verifies a statement item with the module its format names. */
  verify(item: StatementItem, publicKey: Uint8Array): Uint8Array | StatementContent {
    return this.get(item.format).verify(item.document, publicKey);
  }
}
