// The terminal view's keys: raw terminal bytes to keypad keys, the same mapping as the web page.

import { terminalActions } from '../../board/emulator/terminal-keys';

test('digits, Enter, Esc, Backspace, M and the arrows become keypad keys', () => {
  expect(terminalActions('12\r\x1b\x7fm\x1b[A\x1b[B\x1bOA\n')).toEqual([
    { key: '1' },
    { key: '2' },
    { key: 'OK' },
    { key: 'CANCEL' },
    { key: 'CLEAR' },
    { key: 'MENU' },
    { key: 'UP' },
    { key: 'DOWN' },
    { key: 'UP' },
    { key: 'OK' },
  ]);
});

test('C toggles the card, Ctrl-C and Q quit, other keys and sequences are ignored', () => {
  expect(terminalActions('cC\x03q')).toEqual([{ card: true }, { card: true }, { quit: true }, { quit: true }]);
  // F5 (ESC [ 1 5 ~), right arrow, letters and controls mean nothing on the keypad
  expect(terminalActions('\x1b[15~\x1b[Cxyz\t ')).toEqual([]);
  expect(terminalActions('\x1b[15~5')).toEqual([{ key: '5' }]);
});
