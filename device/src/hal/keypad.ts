// The 4×4 key matrix (board/pinmap.json): rows are open-drain outputs held low while idle,
// columns inputs with pull-ups watched with setWatch (debounced), so a key press pulls its
// column low and wakes us. Then the matrix is scanned a row at a time to find the key.
// Only a single key counts: two or more keys down at once (or the ghost a diode-less matrix
// shows) are ignored until all are released, so a pressed-together pair can never be read
// as a digit of the PIN or an OK.

const KP = __PINMAP__.keypad;

export type KeyHandler = (key: string) => void;

export class Keypad {
  private onKey: KeyHandler;
  private down: string;
  private blocked: boolean;

  constructor(onKey: KeyHandler) {
    this.onKey = onKey;
    this.down = '';
    this.blocked = false;
    for (let r = 0; r < KP.rows.length; r++) pinMode(KP.rows[r], 'opendrain');
    this.rows(0);
    for (let c = 0; c < KP.cols.length; c++) {
      pinMode(KP.cols[c], 'input_pullup');
      setWatch(() => this.scan(), KP.cols[c], { repeat: true, edge: 'both', debounce: KP.debounceMs });
    }
  }

  /** The keys down now, found by pulling one row low at a time. */
  private keysDown(): string[] {
    const found: string[] = [];
    this.rows(1); // released: open drain floats, the columns' pull-ups win
    for (let r = 0; r < KP.rows.length; r++) {
      digitalWrite(KP.rows[r], 0);
      for (let c = 0; c < KP.cols.length; c++) if (!digitalRead(KP.cols[c])) found.push(KP.layout[r][c]);
      digitalWrite(KP.rows[r], 1);
    }
    this.rows(0);
    return found;
  }

  private rows(level: number): void {
    for (let r = 0; r < KP.rows.length; r++) digitalWrite(KP.rows[r], level);
  }

  private scan(): void {
    const keys = this.keysDown();
    if (keys.length === 0) {
      this.down = '';
      this.blocked = false;
      return;
    }
    if (keys.length > 1) {
      this.blocked = true; // a chord: nothing until every key is up again
      return;
    }
    if (this.blocked || keys[0] === this.down) return;
    this.down = keys[0];
    this.onKey(keys[0]);
  }
}
