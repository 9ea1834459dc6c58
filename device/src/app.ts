// The device as the user meets it: the idle screen (the card holder's name, the balance on
// request), the menu (balance, history, change PIN, unblock, language, help), the one
// operation slot shared by host requests and menu flows, and the way back to idle after
// anything — including a firmware fault.

import { decode } from '../../protocol/src/cbor';
import { DeviceState, ErrorCode, MsgType, NESTED_LIMITS } from '../../protocol/src/messages';
import { HandlerTable, HostLink, Request } from './link/host-link';
import { hello } from './handlers/hello';
import { ping } from './handlers/ping';
import { CardApplet, CardInfo } from './card/applet';
import { CardError } from './card/errors';
import { balance, changePin, confirm, Ctx, debit, load, readLog, sign, storeCert, unblock, verifyOffer } from './ops/flows';
import { OfferBook } from './ops/offers';
import { Operation } from './ops/operation';
import { showResult } from './ops/prompts';
import { formatDate, formatMoney } from './ui/format';
import { language, languageCodes, languageName, setLanguage, t } from './ui/lang';
import { toDisplay, utf8Of } from './ui/text';
import { Row, ScrollView, textRows, Tinguin, View } from './ui/tinguin';

const SETTINGS = 'semper.json';
/** The menu and other views the user opened go back to idle after this long without a key. */
export const IDLE_AFTER_MS = 60000;

export class App implements Ctx {
  ui: Tinguin;
  card: CardApplet;
  offers: OfferBook;
  link: HostLink;
  op: Operation | null;
  private info: CardInfo | null;
  private shownBalance: string;
  private idleTimer: number;

  constructor(ui: Tinguin, card: CardApplet) {
    this.ui = ui;
    this.card = card;
    this.offers = new OfferBook();
    this.op = null;
    this.info = null;
    this.shownBalance = '';
    this.idleTimer = 0;
    const settings = require('Storage').readJSON(SETTINGS, true) as { lang?: string } | undefined;
    if (!settings || !settings.lang || !setLanguage(settings.lang)) setLanguage(languageCodes()[0]);
    const handlers: HandlerTable = {};
    this.link = new HostLink(handlers);
    // a new request reusing the running operation's id is a host error (SPEC §5.0.5)
    this.link.runningId = () => (this.op && this.op.req ? this.op.id : 0);
    handlers[MsgType.HELLO] = hello(handlers, () => this.card.reader.present());
    handlers[MsgType.PING] = ping;
    handlers[MsgType.CANCEL] = (req) => this.cancel(req);
    handlers[MsgType.CONFIRM] = (req) => confirm(this, req);
    handlers[MsgType.SIGN] = (req) => sign(this, req);
    handlers[MsgType.VERIFY_OFFER] = (req) => verifyOffer(this, req);
    handlers[MsgType.PURSE_BALANCE] = (req) => balance(this, req);
    handlers[MsgType.PURSE_DEBIT] = (req) => debit(this, req);
    handlers[MsgType.PURSE_LOAD] = (req) => load(this, req);
    handlers[MsgType.READ_LOG] = (req) => readLog(this, req);
    handlers[MsgType.CHANGE_PIN] = (req) => changePin(this, req);
    handlers[MsgType.STORE_CERT] = (req) => storeCert(this, req);
    this.link.onLinkState = (up) => {
      // a host that went away cannot answer for the user: a prompt it asked for is dropped,
      // with no ERROR for it on the new link (SPEC §3.8); what the card already did stays done
      if (!up && this.op && this.op.req && !this.op.committed) {
        this.op.req = null;
        this.op.fail(ErrorCode.CANCELLED);
      }
      this.ui.setStatus(up, this.card.reader.present());
    };
    this.ui.onActivity = () => this.touch();
    // the last line of defence: whatever escaped ends the operation and shows idle
    const fault = (): void => {
      if (this.op) this.op.fail(ErrorCode.INTERNAL);
      else this.idle();
    };
    this.link.onFault = fault;
    process.on('uncaughtException', fault);
  }

  start(): void {
    this.link.start();
    this.idle();
  }

  // ------------------------------------------------------------------ operations

  begin(req: Request | null, steps: number): Operation | null {
    if (this.op) {
      if (req) req.fail(ErrorCode.BUSY);
      return null;
    }
    const op = new Operation(
      {
        status: (state, step, steps2, label, id) => {
          this.link.cardPresent = this.card.reader.present();
          this.link.status(state, step, steps2, utf8Of(label), id);
        },
        showStep: (step, steps2, label) => this.ui.setStep(step, steps2, label),
        ended: (o) => this.ended(o),
      },
      req,
      steps,
    );
    this.op = op;
    this.shownBalance = '';
    return op;
  }

  private ended(op: Operation): void {
    if (this.op !== op) return;
    this.op = null;
    if (op.quiet && !op.lastError) return this.idle();
    showResult(this.ui, op.lastError, t('res.ok'), op.lastTries, () => this.idle());
  }

  private cancel(req: Request): void {
    const target = (req.msg.body as { target: number }).target;
    if (this.op && this.op.req && this.op.id === target && !this.op.committed) {
      this.op.fail(ErrorCode.CANCELLED);
      req.reply({ cancelled: true });
    } else req.reply({ cancelled: false });
  }

  // ------------------------------------------------------------------ card

  /** The slot changed: read who the card belongs to, or forget it. */
  cardChanged(present: boolean): void {
    this.info = null;
    this.shownBalance = '';
    this.link.cardPresent = present;
    this.link.status(this.op ? DeviceState.BUSY : DeviceState.IDLE);
    if (this.op && !present) this.op.fail(ErrorCode.NO_CARD);
    if (present) {
      this.card.open((e: CardError | null, info?: CardInfo) => {
        if (!e && info) this.info = info;
        if (!this.op) this.idle();
      });
    }
    this.ui.setStatus(this.link.synced, present);
    if (!this.op) this.idle();
  }

  // ------------------------------------------------------------------ idle and menu

  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = 0;
    if (this.op) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = 0;
      if (!this.op) this.idle();
    }, IDLE_AFTER_MS);
  }

  idle(): void {
    this.ui.setStatus(this.link.synced, this.card.reader.present());
    const rows: Row[] = [];
    if (!this.card.reader.present()) {
      const r = textRows(t('idle.insert'));
      for (let i = 0; i < r.length; i++) rows.push(r[i]);
    } else {
      const holder = this.info ? toDisplay(this.info.holder, true) : '';
      const r = textRows(holder || t('idle.reading'));
      for (let i = 0; i < r.length; i++) rows.push(r[i]);
      if (this.shownBalance) {
        rows.push({ t: t('idle.balance') });
        rows.push({ t: this.shownBalance, big: true });
      }
    }
    const v = new ScrollView(
      rows,
      (k: string) => {
        if (k === 'MENU') this.menu();
        else if (k === 'OK' && this.card.reader.present()) this.showBalance();
      },
      () => (this.card.reader.present() ? t('foot.idle') : t('foot.idleNoCard')),
    );
    this.ui.show(v);
  }

  private showBalance(): void {
    const op = this.begin(null, 1);
    if (!op) return;
    op.quiet = true;
    op.step(1, t('step.card'), DeviceState.CARD);
    op.deadline(30, ErrorCode.CARD_ERROR);
    this.card.balance(
      op.guard((e: CardError | null, bal?: { amount: number; currency: string }) => {
        if (e || !bal) return op.cardFail(e || { code: ErrorCode.CARD_ERROR });
        op.ok({});
        this.shownBalance = formatMoney(bal.amount, bal.currency, t('num.decimal'), t('num.group'));
        this.idle();
      }),
    );
  }

  /** MENU from idle: a numbered list; the digit or OK on the highlighted row chooses. */
  private menu(): void {
    const items: [string, () => void][] = [
      [t('menu.balance'), () => this.showBalance()],
      [t('menu.history'), () => this.history()],
      [t('menu.changePin'), () => changePin(this, null)],
      [t('menu.unblock'), () => unblock(this)],
      [t('menu.language'), () => this.languages()],
      [t('menu.help'), () => this.help()],
    ];
    const rows: Row[] = [];
    for (let i = 0; i < items.length; i++) rows.push({ t: i + 1 + ' ' + items[i][0] });
    const v = new ScrollView(
      rows,
      (k: string) => {
        const n = k.length === 1 ? k.charCodeAt(0) - 49 : -1;
        if (n >= 0 && n < items.length) items[n][1]();
        else if (k === 'CANCEL' || k === 'MENU') this.idle();
      },
      () => t('foot.menu'),
    );
    this.ui.show(v);
  }

  private history(): void {
    const op = this.begin(null, 1);
    if (!op) return;
    op.quiet = true;
    op.step(1, t('step.card'), DeviceState.CARD);
    op.deadline(30, ErrorCode.CARD_ERROR);
    this.card.readLog(
      20,
      op.guard((e: CardError | null, raw?: Uint8Array) => {
        if (e || !raw) return op.cardFail(e || { code: ErrorCode.CARD_ERROR });
        const entries = decode(raw, NESTED_LIMITS) as unknown[][];
        op.ok({});
        const rows: Row[] = [];
        if (!entries.length) rows.push({ t: t('hist.empty') });
        for (let i = 0; i < entries.length; i++) {
          const en = entries[i];
          const sign = en[1] === 1 ? '-' : '+';
          rows.push({ t: sign + formatMoney(en[2] as number, en[3] as string, t('num.decimal'), t('num.group')), inv: true });
          const who = toDisplay(en[4] as string, true) || '';
          const when = (en[5] as number) ? formatDate(en[5] as number) + ' ' : '';
          const r = textRows(when + who);
          for (let k = 0; k < r.length; k++) rows.push(r[k]);
        }
        this.ui.show(new ScrollView(rows, (k: string) => (k === 'OK' || k === 'CANCEL' ? this.idle() : undefined), () => t('foot.back')));
      }),
    );
  }

  private languages(): void {
    const codes = languageCodes();
    const rows: Row[] = [];
    for (let i = 0; i < codes.length; i++) rows.push({ t: i + 1 + ' ' + languageName(codes[i]) + (codes[i] === language() ? ' *' : ''), inv: codes[i] === language() });
    this.ui.show(
      new ScrollView(
        rows,
        (k: string) => {
          const n = k.length === 1 ? k.charCodeAt(0) - 49 : -1;
          if (n >= 0 && n < codes.length) {
            setLanguage(codes[n]);
            require('Storage').writeJSON(SETTINGS, { lang: codes[n] });
            this.idle();
          } else if (k === 'CANCEL' || k === 'OK') this.idle();
        },
        () => t('foot.menu'),
      ),
    );
  }

  private help(): void {
    const v: View = new ScrollView(textRows(t('help.keys') + '\n' + t('help.pinWhat') + '\n' + t('help.device')), (k: string) => (k === 'OK' || k === 'CANCEL' ? this.idle() : undefined), () => t('foot.back'));
    this.ui.show(v);
  }
}
