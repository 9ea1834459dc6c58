// How a server command (`semper agent`, and the same shape in `semper bank`, `semper ttp`)
// waits: until its caller's AbortSignal (tests) or, without one, until SIGINT or SIGTERM.

/** Resolves when `signal` aborts, or on SIGINT / SIGTERM when there is no signal. */
export function untilStopped(signal?: AbortSignal): Promise<void> {
  return new Promise<void>((stop) => {
    if (signal) {
      if (signal.aborted) stop();
      signal.addEventListener('abort', () => stop(), { once: true });
    } else {
      process.once('SIGINT', () => stop());
      process.once('SIGTERM', () => stop());
    }
  });
}
