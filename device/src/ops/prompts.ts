// The prompts operations are made of: review a statement (OK only after all of it has been
// on screen), enter a PIN, and show how it ended. Each belongs to one operation: when the
// operation ends for another reason (CANCEL from the host, its timeout), its prompt is gone.

import { ErrorCode, errorCodeName } from '../../../protocol/src/messages';
import { t } from '../ui/lang';
import { PinView, Row, ScrollView, textRows, Tinguin } from '../ui/tinguin';
import { Operation } from './operation';

/**
 * Shows `rows` and calls `ok` when the user presses OK after reading to the end. CANCEL
 * ends the operation USER_REFUSED.
 */
export function askReview(ui: Tinguin, op: Operation, rows: Row[], help: string, ok: () => void): void {
  let warned = false;
  const v = new ScrollView(
    rows,
    op.guard((k: string) => {
      if (k === 'OK') {
        if (v.seenAll) ok();
        else warned = true; // the footer says why OK did nothing
      } else if (k === 'CANCEL') op.fail(ErrorCode.USER_REFUSED);
    }),
    (sv) => (sv.seenAll ? t('foot.confirm') : warned ? t('foot.readAll') : t('foot.more')),
    help,
  );
  ui.show(v);
}

/**
 * Asks for a PIN; `got` receives the digits once. CANCEL ends the operation USER_REFUSED.
 * The prompt is dropped if the operation ends meanwhile.
 */
export function askPin(ui: Tinguin, op: Operation, title: string, note: string, got: (pin: string) => void): void {
  const v = new PinView(
    title,
    note,
    t('help.pin'),
    op.guard((pin: string | null) => {
      if (pin === null) op.fail(ErrorCode.USER_REFUSED);
      else got(pin);
    }),
  );
  ui.show(v);
}

/** Words a non-expert understands for an error code, with the code for experts. */
export function explain(code: number, triesLeft?: number): string {
  const s = t('err.' + code, triesLeft === undefined ? '' : triesLeft);
  return s === 'err.' + code ? t('err.other') : s;
}

/**
 * The result screen: "Done", "Refused" or "Failed" with why; MENU shows the code for
 * experts; OK or CANCEL (or 60 s) back to idle.
 */
export function showResult(ui: Tinguin, code: number, detail: string, triesLeft: number | undefined, back: () => void): void {
  const head = code === 0 ? t('res.done') : code === ErrorCode.USER_REFUSED || code === ErrorCode.CANCELLED ? t('res.refused') : t('res.failed');
  const rows = textRows(head, true);
  const more = textRows(code === 0 ? detail : explain(code, triesLeft));
  for (let i = 0; i < more.length; i++) rows.push(more[i]);
  let timer = 0;
  const done = (): void => {
    if (timer) clearTimeout(timer);
    timer = 0;
    back();
  };
  const v = new ScrollView(
    rows,
    (k: string) => {
      if (k === 'OK' || k === 'CANCEL') done();
    },
    () => t('foot.back'),
    code === 0 ? t('help.result') : t('help.code', code, errorCodeName(code)),
  );
  timer = setTimeout(() => {
    timer = 0;
    if (ui.view === v) back();
  }, 60000);
  ui.show(v);
}
