// Test wiring: a simulated card UART between the reference T=1 terminal and a card.
import { T1Port } from '../../board/card/t1';

export interface CardEnd {
  receiveByte(b: number): void;
  lineIdle(): void;
}

/** What happens to one transmission (one block or burst) on the wire. */
export type Fault = { kind: 'none' } | { kind: 'corrupt'; at: number; xor: number } | { kind: 'dropByte'; at: number } | { kind: 'dropAll' } | { kind: 'truncate'; at: number };

export function applyFault(bytes: Uint8Array, f: Fault): Uint8Array {
  const at = (n: number) => (bytes.length === 0 ? 0 : n % bytes.length);
  switch (f.kind) {
    case 'none':
      return bytes;
    case 'corrupt': {
      const c = bytes.slice();
      c[at(f.at)] ^= f.xor & 0xff || 1;
      return c;
    }
    case 'dropByte': {
      const i = at(f.at);
      return Uint8Array.from([...bytes.slice(0, i), ...bytes.slice(i + 1)]);
    }
    case 'dropAll':
      return new Uint8Array(0);
    case 'truncate':
      return bytes.slice(0, at(f.at));
  }
}

export class Wire implements T1Port {
  now = 0;
  card: CardEnd | null = null;
  readonly queue: number[] = [];
  readonly log: Array<{ dir: 'T>C' | 'C>T'; hex: string }> = [];
  /** Faults applied to successive transmissions (both directions share the schedule); then none. */
  faults: Fault[] = [];
  byteMs = 0.1;
  constructor(public cwtMs = 5) {}

  private nextFault(): Fault {
    return this.faults.shift() ?? { kind: 'none' };
  }

  send(bytes: Uint8Array): void {
    this.log.push({ dir: 'T>C', hex: hexs(bytes) });
    const b = applyFault(bytes, this.nextFault());
    for (const x of b) {
      this.now += this.byteMs;
      this.card!.receiveByte(x);
    }
    this.now += this.cwtMs + 1;
    this.card!.lineIdle();
  }

  /** Card → terminal. */
  readonly cardSend = (bytes: Uint8Array): void => {
    this.log.push({ dir: 'C>T', hex: hexs(bytes) });
    for (const x of applyFault(bytes, this.nextFault())) this.queue.push(x);
  };

  readByte(timeoutMs: number): number | null {
    if (this.queue.length > 0) {
      this.now += this.byteMs;
      return this.queue.shift()!;
    }
    this.now += timeoutMs;
    return null;
  }
}

export const hexs = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');
export const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/[^0-9a-fA-F]/g, ''), 'hex'));
