// A byte line between host and device: a serial port, a TCP socket, a pipe. The link
// layer only needs to write bytes and be told when bytes arrive.

export interface Line {
  write(bytes: Uint8Array): void;
  /** Registers the receiver of incoming bytes (one receiver per line). */
  onData(cb: (bytes: Uint8Array) => void): void;
  close(): void;
}

/** Faults a line can inject, as probabilities per written chunk (0..1). */
export interface LineFaults {
  /** Drop the whole chunk. */
  drop?: number;
  /** Flip one random bit. */
  corrupt?: number;
  /** Deliver the chunk twice. */
  duplicate?: number;
  /** Insert random noise bytes before the chunk. */
  noise?: number;
  /** Deterministic random source in [0,1) (default Math.random). */
  random?: () => number;
}

/** What happens to one written chunk under `faults`: the chunks to deliver, in order. */
export function applyFaults(bytes: Uint8Array, faults: LineFaults): Uint8Array[] {
  const rnd = faults.random ?? Math.random;
  const chunks: Uint8Array[] = [];
  if (faults.noise && rnd() < faults.noise) {
    const n = 1 + Math.floor(rnd() * 8);
    chunks.push(Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  }
  if (faults.drop && rnd() < faults.drop) return chunks;
  const b = new Uint8Array(bytes);
  if (faults.corrupt && rnd() < faults.corrupt && b.length > 0) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
  chunks.push(b);
  if (faults.duplicate && rnd() < faults.duplicate) chunks.push(b);
  return chunks;
}

/**
 * Wraps a line so that what it writes suffers `faults` and what it receives suffers
 * `rxFaults` (both may be changed at any time).
 */
export function faultyLine(line: Line, faults: LineFaults, rxFaults: LineFaults = faults): Line {
  return {
    write: (bytes) => {
      for (const c of applyFaults(bytes, faults)) line.write(c);
    },
    onData: (cb) =>
      line.onData((bytes) => {
        for (const c of applyFaults(bytes, rxFaults)) cb(c);
      }),
    close: () => line.close(),
  };
}

/**
 * Two connected in-memory line ends. Delivery is asynchronous (like a real line) and
 * can be made unreliable with `faults` on either direction.
 */
export function linePair(faultsAtoB: LineFaults = {}, faultsBtoA: LineFaults = {}): [Line, Line] {
  const rx: ((b: Uint8Array) => void)[] = [() => {}, () => {}];
  let closed = false;
  const end = (me: number, faults: LineFaults): Line => ({
    write(bytes: Uint8Array) {
      if (closed) return;
      const peer = 1 - me;
      for (const c of applyFaults(bytes, faults)) setImmediate(() => !closed && rx[peer](c));
    },
    onData(cb) {
      rx[me] = cb;
    },
    close() {
      closed = true;
    },
  });
  return [end(0, faultsAtoB), end(1, faultsBtoA)];
}

/**
 * Paces what is written to `line` to the rate of a real serial line (10 bit times per
 * byte, 8N1), in order: a chunk arrives when its last byte would have. Delivery only, not
 * flow control: writes never block.
 */
export function pacedLine(line: Line, baud: number): Line {
  let busyUntil = 0;
  const queue: Uint8Array[] = [];
  let timer: NodeJS.Timeout | null = null;
  const due: number[] = [];
  const pump = (): void => {
    timer = null;
    const now = performance.now();
    while (queue.length && due[0] <= now) {
      due.shift();
      line.write(queue.shift()!);
    }
    if (queue.length) timer = setTimeout(pump, Math.max(0, due[0] - now));
  };
  return {
    write(bytes) {
      const now = performance.now();
      busyUntil = Math.max(now, busyUntil) + (bytes.length * 10 * 1000) / baud;
      queue.push(new Uint8Array(bytes));
      due.push(busyUntil);
      if (!timer) timer = setTimeout(pump, Math.max(0, busyUntil - now));
    },
    onData: (cb) => line.onData(cb),
    close() {
      if (timer) clearTimeout(timer);
      timer = null;
      queue.length = 0;
      due.length = 0;
      line.close();
    },
  };
}
