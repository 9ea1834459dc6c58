// A deterministic scheduler for link tests: it implements the LinkTimers interface of
// protocol/src/link.ts on a virtual time axis, and it also carries the bytes of the
// lines (VirtualWire), so that timers and line deliveries interleave in one well-defined
// order. Nothing here looks at the real clock: a test that runs on it gives the same
// result on a fast and on a slow machine.

import { LinkTimers } from '../../protocol/src/link';

interface Task {
  at: number;
  order: number;
  fn: () => void;
  live: boolean;
}

/** Opaque handle of a scheduled task (what `set`/`schedule` return). */
export type TaskHandle = object;

export class VirtualClock implements LinkTimers {
  private t = 0;
  private order = 0;
  private tasks: Task[] = [];
  private live = 0;
  /** Tasks run so far (a loop guard for tests). */
  fired = 0;

  /** Virtual milliseconds since the clock was made. */
  now(): number {
    return this.t;
  }

  set(fn: () => void, ms: number): unknown {
    return this.schedule(fn, ms);
  }

  clear(handle: unknown): void {
    const task = handle as Task | null | undefined;
    if (task && task.live) {
      task.live = false;
      this.live--;
    }
  }

  /**
   * Runs `fn` `delayMs` from now. Tasks due at the same time run in the order they were
   * scheduled (FIFO), so a line that schedules its chunks in order delivers them in order.
   */
  schedule(fn: () => void, delayMs: number): TaskHandle {
    const d = Number(delayMs);
    const task: Task = { at: this.t + (d > 0 ? d : 0), order: this.order++, fn, live: true };
    // binary search for the first task that is due later (stable for equal times)
    let lo = 0;
    let hi = this.tasks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.tasks[mid];
      if (m.at < task.at || (m.at === task.at && m.order < task.order)) lo = mid + 1;
      else hi = mid;
    }
    this.tasks.splice(lo, 0, task);
    this.live++;
    return task;
  }

  /** Tasks waiting (cancelled ones excluded). */
  get pending(): number {
    return this.live;
  }

  /** When the next live task is due, or undefined if there is none. */
  nextDue(): number | undefined {
    this.prune();
    return this.tasks.length ? this.tasks[0].at : undefined;
  }

  private prune(): void {
    while (this.tasks.length && !this.tasks[0].live) this.tasks.shift();
  }

  /** Runs the next task if it is due at or before `limit`. */
  private runNext(limit: number): boolean {
    this.prune();
    if (this.tasks.length === 0 || this.tasks[0].at > limit) return false;
    const task = this.tasks.shift() as Task;
    task.live = false;
    this.live--;
    if (task.at > this.t) this.t = task.at;
    this.fired++;
    task.fn();
    return true;
  }

  /** Moves time forward by `ms`, running every task that falls due, in time order. */
  advance(ms: number): number {
    const target = this.t + ms;
    let n = 0;
    while (this.runNext(target)) n++;
    this.t = target;
    return n;
  }

  /**
   * Runs tasks until none is left or the next one lies more than `maxMs` ahead of the
   * time this was called. Returns true if the clock went idle.
   */
  runUntilIdle(maxMs = 600000): boolean {
    const limit = this.t + maxMs;
    while (this.runNext(limit));
    this.prune();
    return this.tasks.length === 0;
  }

  /**
   * Runs tasks until `done()` holds (checked after each task) or `maxMs` of virtual time
   * have passed. Returns whether `done()` holds.
   */
  runUntil(done: () => boolean, maxMs = 600000): boolean {
    const limit = this.t + maxMs;
    while (!done()) {
      if (!this.runNext(limit)) return false;
    }
    return true;
  }
}

/** A small seeded PRNG (mulberry32): uniform floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Faults a virtual line injects, as probabilities per write (0..1). */
export interface WireFaults {
  /** Lose the whole write. */
  drop?: number;
  /** Flip one random bit of the write. */
  corrupt?: number;
  /** Deliver the write twice. */
  duplicate?: number;
  /** Put 1..16 random bytes (0x00 included) on the line before the write. */
  noise?: number;
  /** Hold the write back by up to `reorderMs`, so that later writes overtake it. */
  reorder?: number;
  reorderMs?: number;
  /** Deliver each write in random pieces of 1..`split` bytes, spread out in time. */
  split?: number;
  /** Base one-way latency, ms (default 1). */
  latencyMs?: number;
}

/** What a wire did, for asserting that a fault really happened. */
export interface WireStats {
  writes: number;
  dropped: number;
  corrupted: number;
  duplicated: number;
  noise: number;
  reordered: number;
  chunks: number;
}

/**
 * One direction of a line on the virtual clock. `write` is what the sending side calls;
 * the bytes reach `receiver` after the latency, in order (unless reordered), with the
 * configured faults. `cut` loses everything; `faults` may be changed at any time.
 */
export class VirtualWire {
  faults: WireFaults;
  cut = false;
  readonly stats: WireStats = { writes: 0, dropped: 0, corrupted: 0, duplicated: 0, noise: 0, reordered: 0, chunks: 0 };
  /** Every byte written (before faults), one entry per write. */
  readonly written: Uint8Array[] = [];
  private receiver: (bytes: Uint8Array) => void = () => {};
  private lastAt = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly rnd: () => number,
    faults: WireFaults = {},
  ) {
    this.faults = faults;
  }

  connect(receiver: (bytes: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  readonly write = (bytes: Uint8Array): void => {
    const f = this.faults;
    const rnd = this.rnd;
    this.stats.writes++;
    this.written.push(new Uint8Array(bytes));
    if (this.cut) {
      this.stats.dropped++;
      return;
    }
    const pieces: Uint8Array[] = [];
    if (f.noise && rnd() < f.noise) {
      this.stats.noise++;
      const n = 1 + Math.floor(rnd() * 16);
      const junk = new Uint8Array(n);
      for (let i = 0; i < n; i++) junk[i] = Math.floor(rnd() * 256);
      pieces.push(junk);
    }
    if (f.drop && rnd() < f.drop) this.stats.dropped++;
    else {
      const b = new Uint8Array(bytes);
      if (f.corrupt && rnd() < f.corrupt && b.length > 0) {
        this.stats.corrupted++;
        b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
      }
      pieces.push(b);
      if (f.duplicate && rnd() < f.duplicate) {
        this.stats.duplicated++;
        pieces.push(b);
      }
    }
    let chunks: Uint8Array[] = pieces;
    if (f.split && f.split > 0) {
      chunks = [];
      for (const p of pieces) {
        for (let i = 0; i < p.length; ) {
          const n = 1 + Math.floor(rnd() * f.split);
          chunks.push(p.subarray(i, Math.min(p.length, i + n)));
          i += n;
        }
      }
    }
    const latency = f.latencyMs ?? 1;
    const late = f.reorder !== undefined && f.reorder > 0 && rnd() < f.reorder;
    let at = late ? this.clock.now() + latency + rnd() * (f.reorderMs ?? 30) : Math.max(this.clock.now() + latency, this.lastAt);
    if (late) this.stats.reordered++;
    for (const c of chunks) {
      this.stats.chunks++;
      const delay = at - this.clock.now();
      this.clock.schedule(() => {
        if (!this.cut) this.receiver(c);
      }, delay);
      // pieces of one write trickle in, so timers may run between them
      if (f.split) at += 0.05;
    }
    if (!late) this.lastAt = at;
  };
}
