// The operations the host asks for (SPEC.md §5.5–5.12), each from request to answer: what
// the user sees, which keys move it on, what the card does. The host supplies data, never
// decisions: nothing is signed or paid without the statement on screen, OK, and the PIN
// typed on this keypad; one OK and one PIN make one signature or one debit.

import { CborMap, CborTag, CborValue, decode, encode } from '../../../protocol/src/cbor';
import { CborError } from '../../../protocol/src/errors';
import { DeviceState, ErrorCode, NESTED_LIMITS, StatementKind } from '../../../protocol/src/messages';
import { Request } from '../link/host-link';
import { currencyExponent, formatMoney } from '../ui/format';
import { t } from '../ui/lang';
import { toDisplay } from '../ui/text';
import { BODY_TOP, Row, ROW_H, textRows, Tinguin } from '../ui/tinguin';
import { CardApplet } from '../card/applet';
import { CardError } from '../card/errors';
import { OfferBook } from './offers';
import { Operation } from './operation';
import { askPin, askReview } from './prompts';
import { refused, review, Reviewed } from './statement';

/** What the flows work with; `begin` answers BUSY itself and returns null when one runs. */
export interface Ctx {
  ui: Tinguin;
  card: CardApplet;
  offers: OfferBook;
  begin(req: Request | null, steps: number): Operation | null;
}

/** The protected header every signature uses: {1: -7}, ES256 (SPEC.md §5.6). */
const PROTECTED_ES256 = new Uint8Array([0xa1, 0x01, 0x26]);
const DEFAULT_TIMEOUT = 120;

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(require('crypto').SHA256(data));
}

/** SHA-256 of the COSE Sig_structure ["Signature1", protected, h'', payload] (RFC 9052 §4.4). */
export function sigStructureDigest(protectedHdr: Uint8Array, payload: Uint8Array): Uint8Array {
  return sha256(encode(['Signature1', protectedHdr, new Uint8Array(0), payload]));
}

function timeoutOf(req: Request): number {
  const b = req.msg.body as { timeout?: number };
  return b.timeout || DEFAULT_TIMEOUT;
}

/**
 * Review → (PIN) shared by CONFIRM, SIGN and PURSE_DEBIT. Step 1 shows the statement, step 2
 * takes the PIN and has the card verify it; `then` runs with a fresh verification.
 */
function reviewAndPin(ctx: Ctx, req: Request, kinds: number[], steps: number, withPin: boolean, then: (op: Operation, r: Reviewed, pin: string) => void, first?: Row[]): void {
  const body = req.msg.body as { statement: Uint8Array };
  const r = review(body.statement, kinds, ctx.offers);
  if (refused(r)) {
    req.fail(r.code, r.path);
    return;
  }
  if (first) r.rows = first.concat(r.rows);
  const op = ctx.begin(req, steps);
  if (!op) return;
  op.deadline(timeoutOf(req), ErrorCode.USER_TIMEOUT);
  op.step(1, t('step.check'), DeviceState.AWAITING_USER);
  askReview(ctx.ui, op, r.rows, t('help.review'), () => {
    // read and agreed: the laid-out rows are not needed again, and on the board they are
    // ~140 JsVars the PIN and the card steps can use (measured on the interpreter)
    r.rows = [];
    // and of the statement only what the PIN prompt and the card need (its text may be long)
    r.st = { kind: r.st.kind, title: '', amount: r.st.amount };
    if (!withPin) return then(op, r, '');
    if (!ctx.card.reader.present()) return op.fail(ErrorCode.NO_CARD);
    op.step(2, t('step.pin'), DeviceState.AWAITING_PIN);
    op.deadline(timeoutOf(req), ErrorCode.USER_TIMEOUT);
    const amount = r.st.amount ? formatMoney(r.st.amount.amount, r.st.amount.currency, t('num.decimal'), t('num.group')) : '';
    askPin(ctx.ui, op, t('pin.enter'), amount, (pin: string) => {
      op.step(3, t('step.card'), DeviceState.CARD);
      op.deadline(30, ErrorCode.CARD_ERROR);
      ctx.ui.show(busyView(t('busy.card')));
      ctx.card.verifyPin(
        pin,
        op.guard((e: CardError | null) => {
          if (e) return op.cardFail(e);
          then(op, r, pin);
        }),
      );
    });
  });
}

/** A view with a message and no keys but MENU's help: while the card works. */
function busyView(msg: string): { draw(g: EspruinoGraphics): void; footer(): string; key(k: string): void } {
  const rows = textRows(msg);
  return {
    draw: (g: EspruinoGraphics) => {
      for (let i = 0; i < rows.length; i++) g.drawString(rows[i].t, 1, BODY_TOP + ROW_H * i);
    },
    footer: () => t('foot.wait'),
    key: () => {},
  };
}

export function confirm(ctx: Ctx, req: Request): void {
  reviewAndPin(ctx, req, [StatementKind.PAYMENT, StatementKind.DOCUMENT, StatementKind.PAIRING, StatementKind.LOAD], 1, false, (op) => op.ok({}));
}

/**
 * SIGN; with `newKey` (registration, SPEC.md §5.6) the card first makes a new key pair, said on
 * the screens before the statement. GENERATE KEY PAIR uses up the card's PIN verification, so
 * the PIN typed for this one operation is presented again for the signature that proves the
 * new key — one OK, one PIN, one key, one signature.
 */
export function sign(ctx: Ctx, req: Request): void {
  const body = req.msg.body as { statement: Uint8Array; newKey?: boolean };
  const fresh = body.newKey === true;
  const kinds = fresh ? [StatementKind.DOCUMENT] : [StatementKind.PAYMENT, StatementKind.DOCUMENT, StatementKind.LOAD];
  const first = fresh ? textRows(t('st.newKey'), false, true) : undefined;
  reviewAndPin(
    ctx,
    req,
    kinds,
    3,
    true,
    (op, _r, pin) => {
      // the device builds what is signed: the host never supplies the bytes behind the digest
      const digest = sigStructureDigest(PROTECTED_ES256, body.statement);
      op.committed = true; // the card acts now: a CANCEL can no longer undo it
      const signNow = (key?: Uint8Array): void =>
        ctx.card.sign(
          digest,
          op.guard((e: CardError | null, sig?: Uint8Array) => {
            if (e) return op.cardFail(e);
            ctx.card.open(
              op.guard((e2: CardError | null, info?: { kid: Uint8Array; cardId: Uint8Array }) => {
                if (e2 || !info) return op.cardFail(e2 || { code: ErrorCode.CARD_ERROR });
                const res: { [name: string]: unknown } = { protected: PROTECTED_ES256, signature: sig, kid: info.kid };
                if (key) {
                  res.key = key;
                  res.card = info.cardId;
                }
                op.ok(res);
              }),
            );
          }),
        );
      if (!fresh) return signNow();
      ctx.card.newKey(
        op.guard((e: CardError | null, key?: Uint8Array) => {
          if (e) return op.cardFail(e);
          ctx.card.verifyPin(
            pin,
            op.guard((e2: CardError | null) => (e2 ? op.cardFail(e2) : signNow(key))),
          );
        }),
      );
    },
    first,
  );
}

/** STORE_CERT: the card keeps the certificate the CA issued for its key (the card checks it; SPEC.md §5.13a). */
export function storeCert(ctx: Ctx, req: Request): void {
  if (!ctx.card.reader.present()) return req.fail(ErrorCode.NO_CARD);
  const op = ctx.begin(req, 1);
  if (!op) return;
  op.quiet = true;
  op.deadline(30, ErrorCode.CARD_ERROR);
  op.step(1, t('step.store'), DeviceState.CARD);
  op.committed = true;
  ctx.card.putCertificate(
    (req.msg.body as { certificate: Uint8Array }).certificate,
    op.guard((e: CardError | null) => (e ? op.cardFail(e) : op.ok({}))),
  );
}

export function debit(ctx: Ctx, req: Request): void {
  reviewAndPin(ctx, req, [StatementKind.PAYMENT], 3, true, (op, r) => {
    const body = req.msg.body as { statement: Uint8Array };
    const amount = r.st.amount as { amount: number; currency: string };
    op.committed = true;
    ctx.card.debit(
      { amount: amount.amount, currency: amount.currency, time: 0, digest: sha256(body.statement), payee: r.party },
      op.guard((e: CardError | null, token?: Uint8Array) => {
        if (e) return op.cardFail(e);
        op.ok({ token: token });
      }),
    );
  });
}

/** Canonical CBOR within the nested limits, or null when it is not. */
function decodeNested(bytes: Uint8Array): CborValue | null {
  try {
    return decode(bytes, NESTED_LIMITS);
  } catch (e) {
    if (e instanceof CborError) return null;
    throw e;
  }
}

/** Parts of a COSE_Sign1 (tagged or not): protected header, payload and signature, or null. */
function sign1Parts(bytes: Uint8Array): { prot: Uint8Array; payload: Uint8Array; sig: Uint8Array } | null {
  let v = decodeNested(bytes);
  if (v instanceof CborTag) v = v.tag === 18 ? v.value : null;
  if (!Array.isArray(v) || v.length !== 4) return null;
  if (!(v[0] instanceof Uint8Array) || !(v[2] instanceof Uint8Array) || !(v[3] instanceof Uint8Array) || v[3].length !== 64) return null;
  return { prot: v[0], payload: v[2], sig: v[3] };
}

/** The payload map of a COSE_Sign1, or null. */
function sign1Payload(bytes: Uint8Array): CborMap | null {
  const parts = sign1Parts(bytes);
  const p = parts ? decodeNested(parts.payload) : null;
  return p instanceof CborMap ? p : null;
}

export function load(ctx: Ctx, req: Request): void {
  const body = req.msg.body as { instruction: Uint8Array };
  const p = sign1Payload(body.instruction);
  const money = p ? p.get(3) : null;
  const issuer = p ? p.get(4) : null;
  if (!p || !Array.isArray(money) || money.length !== 2 || typeof money[0] !== 'number' || typeof money[1] !== 'string' || typeof issuer !== 'string') {
    req.fail(ErrorCode.MALFORMED, 'body.1');
    return;
  }
  const amount = money[0] as number;
  const currency = money[1] as string;
  const issuerText = toDisplay(issuer, false);
  if (currencyExponent(currency) < 0 || issuerText === null) {
    req.fail(ErrorCode.UNDISPLAYABLE, 'body.1');
    return;
  }
  const op = ctx.begin(req, 2);
  if (!op) return;
  op.deadline(timeoutOf(req), ErrorCode.USER_TIMEOUT);
  op.step(1, t('step.check'), DeviceState.AWAITING_USER);
  const rows: Row[] = textRows(t('load.title'), false, true);
  rows.push({ t: t('st.amount') });
  rows.push({ t: formatMoney(amount, currency, t('num.decimal'), t('num.group')), big: true });
  const from = textRows(t('load.from') + ' ' + issuerText);
  for (let i = 0; i < from.length; i++) rows.push(from[i]);
  rows.push({ t: t('st.end') });
  askReview(ctx.ui, op, rows, t('help.load'), () => {
    if (!ctx.card.reader.present()) return op.fail(ErrorCode.NO_CARD);
    op.step(2, t('step.card'), DeviceState.CARD);
    op.deadline(30, ErrorCode.CARD_ERROR);
    ctx.ui.show(busyView(t('busy.card')));
    op.committed = true;
    ctx.card.load(
      body.instruction,
      op.guard((e: CardError | null, bal?: { amount: number; currency: string }) => {
        if (e) return op.cardFail(e);
        op.ok({ balance: bal });
      }),
    );
  });
}

export function verifyOffer(ctx: Ctx, req: Request): void {
  const body = req.msg.body as { certificate: Uint8Array; offer: Uint8Array };
  const offer = sign1Parts(body.offer);
  if (!offer) {
    req.fail(ErrorCode.MALFORMED, 'body.2');
    return;
  }
  const certPayload = sign1Payload(body.certificate);
  if (!certPayload) {
    req.fail(ErrorCode.MALFORMED, 'body.1');
    return;
  }
  if (!ctx.card.reader.present()) {
    req.fail(ErrorCode.NO_CARD);
    return;
  }
  const op = ctx.begin(req, 2);
  if (!op) return;
  op.quiet = true;
  op.deadline(30, ErrorCode.CARD_ERROR);
  op.step(1, t('step.cert'), DeviceState.CARD);
  ctx.card.verifyCertificate(
    body.certificate,
    op.guard((e: CardError | null, cert?: { key: Uint8Array; role: number; name: string }) => {
      if (e || !cert) return op.cardFail(e || { code: ErrorCode.VERIFY_FAILED });
      if (cert.role !== 2) return op.fail(ErrorCode.VERIFY_FAILED, 'body.1');
      op.step(2, t('step.offer'), DeviceState.CARD);
      ctx.card.verifySignature(
        3,
        sigStructureDigest(offer.prot, offer.payload),
        offer.sig,
        op.guard((e2: CardError | null, valid?: boolean) => {
          if (e2) return op.cardFail(e2);
          if (!valid) return op.fail(ErrorCode.VERIFY_FAILED, 'body.2');
          const digest = sha256(body.offer);
          ctx.offers.remember(digest, cert.name);
          const res: { [name: string]: unknown } = { merchant: cert.name, offerDigest: digest };
          const notAfter = certPayload.get(5);
          if (typeof notAfter === 'number') res.validUntil = notAfter;
          op.ok(res);
        }),
      );
    }),
  );
}

/** Card reads without the user: PURSE_BALANCE and READ_LOG. */
export function balance(ctx: Ctx, req: Request): void {
  if (!ctx.card.reader.present()) return req.fail(ErrorCode.NO_CARD);
  const op = ctx.begin(req, 1);
  if (!op) return;
  op.quiet = true;
  op.deadline(30, ErrorCode.CARD_ERROR);
  op.step(1, t('step.card'), DeviceState.CARD);
  ctx.card.balance(
    op.guard((e: CardError | null, bal?: { amount: number; currency: string }) => {
      if (e) return op.cardFail(e);
      op.ok({ balance: bal });
    }),
  );
}

export function readLog(ctx: Ctx, req: Request): void {
  if (!ctx.card.reader.present()) return req.fail(ErrorCode.NO_CARD);
  const max = (req.msg.body as { max?: number }).max || 20;
  const op = ctx.begin(req, 1);
  if (!op) return;
  op.quiet = true;
  op.deadline(30, ErrorCode.CARD_ERROR);
  op.step(1, t('step.card'), DeviceState.CARD);
  ctx.card.readLog(
    max,
    op.guard((e: CardError | null, raw?: Uint8Array) => {
      if (e) return op.cardFail(e);
      const entries = decodeNested(raw as Uint8Array);
      if (!Array.isArray(entries)) return op.fail(ErrorCode.CARD_ERROR);
      const out: { [name: string]: unknown }[] = [];
      for (let i = 0; i < entries.length && i < max; i++) {
        const e2 = entries[i] as CborValue[];
        out.push({ counter: e2[0], kind: e2[1], amount: e2[2], currency: e2[3], party: e2[4], time: e2[5] });
      }
      op.ok({ entries: out });
    }),
  );
}

/**
 * A secret (the current PIN or the PUK), then the new PIN twice, then `card` with both — the
 * shape of CHANGE PIN and UNBLOCK. Nothing about the PINs crosses the link.
 */
function replacePin(
  ctx: Ctx,
  req: Request | null,
  first: { step: string; prompt: string },
  card: (secret: string, newPin: string, cb: (e: CardError | null) => void) => void,
): void {
  if (!ctx.card.reader.present()) {
    if (req) req.fail(ErrorCode.NO_CARD);
    return;
  }
  const op = ctx.begin(req, 4);
  if (!op) return;
  op.deadline(req ? timeoutOf(req) : DEFAULT_TIMEOUT, ErrorCode.USER_TIMEOUT);
  op.step(1, t(first.step), DeviceState.AWAITING_PIN);
  askPin(ctx.ui, op, t(first.prompt), '', (secret: string) => {
    op.step(2, t('step.newPin'), DeviceState.AWAITING_PIN);
    askPin(ctx.ui, op, t('pin.new'), '', (newPin: string) => {
      op.step(3, t('step.repeat'), DeviceState.AWAITING_PIN);
      askPin(ctx.ui, op, t('pin.repeat'), '', (again: string) => {
        if (again !== newPin) return op.fail(ErrorCode.USER_REFUSED);
        op.step(4, t('step.card'), DeviceState.CARD);
        op.deadline(30, ErrorCode.CARD_ERROR);
        ctx.ui.show(busyView(t('busy.card')));
        op.committed = true;
        card(
          secret,
          newPin,
          op.guard((e: CardError | null) => {
            if (e) return op.cardFail(e);
            op.ok({});
          }),
        );
      });
    });
  });
}

/** CHANGE PIN, from the host (request) or from the menu (req null). */
export function changePin(ctx: Ctx, req: Request | null): void {
  replacePin(ctx, req, { step: 'step.oldPin', prompt: 'pin.current' }, (old, pin, cb) => ctx.card.changePin(old, pin, cb));
}

/** UNBLOCK (menu only): the PUK resets the PIN's tries and sets a new PIN. */
export function unblock(ctx: Ctx): void {
  replacePin(ctx, null, { step: 'step.puk', prompt: 'pin.puk' }, (puk, pin, cb) => ctx.card.unblock(puk, pin, cb));
}
