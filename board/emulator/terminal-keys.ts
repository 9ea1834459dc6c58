// Keys from a terminal in raw mode for the --view front end: the same keys as the web page
// (digits, Enter = OK, Esc = CANCEL, Backspace = CLEAR, M = MENU, arrows = UP/DOWN), plus
// C to insert or remove the card and Ctrl-C / Q to stop. A terminal reports key strokes,
// not key-up, so each stroke becomes a press held for PRESS_MS (longer than the firmware's
// debounce, so it registers once).

export type TerminalAction = { key: string } | { card: true } | { quit: true };

/** How long a key stroke from the terminal holds the key down, in ms. */
export const PRESS_MS = 80;

/**
 * Splits raw terminal input into actions. An escape byte starts a sequence (ESC [ A / B are
 * the arrow keys, ESC O A / B in application mode); ESC with nothing after it in the same
 * chunk is the Esc key. Bytes that mean nothing here are ignored.
 */
export function terminalActions(chunk: string): TerminalAction[] {
  const out: TerminalAction[] = [];
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i];
    if (c === '\x1b') {
      const next = chunk[i + 1];
      if (next === '[' || next === 'O') {
        const fin = chunk[i + 2];
        if (fin === 'A') out.push({ key: 'UP' });
        else if (fin === 'B') out.push({ key: 'DOWN' });
        // skip the rest of any other CSI sequence (parameters, then a final byte @–~)
        let j = i + 2;
        while (j < chunk.length && !(chunk[j] >= '@' && chunk[j] <= '~')) j++;
        i = j;
      } else out.push({ key: 'CANCEL' });
    } else if (c >= '0' && c <= '9') out.push({ key: c });
    else if (c === '\r' || c === '\n') out.push({ key: 'OK' });
    else if (c === '\x7f' || c === '\b') out.push({ key: 'CLEAR' });
    else if (c === 'm' || c === 'M') out.push({ key: 'MENU' });
    else if (c === 'c' || c === 'C') out.push({ card: true });
    else if (c === '\x03' || c === 'q' || c === 'Q') out.push({ quit: true });
  }
  return out;
}
