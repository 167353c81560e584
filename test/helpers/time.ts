/** Resolves after `ms` milliseconds. For pacing load, never for waiting on something to happen. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves once `check()` holds, checking every `everyMs`; rejects after `timeoutMs` naming `what`.
 * For an event the test cannot subscribe to (a file closed, a counter reached).
 */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(everyMs);
  }
}

/**
 * How many fixed windows of `windowMs` aligned to the epoch (a server's rate-limit windows)
 * the span from `startedAt` to `endedAt` touched: what a burst timed from outside may have met.
 */
export const windowsSpanned = (startedAt: number, endedAt: number, windowMs: number): number =>
  Math.floor(endedAt / windowMs) - Math.floor(startedAt / windowMs) + 1;

/** Resolves once a new fixed window of `windowMs` has begun on the wall clock. */
export async function nextWindowStart(windowMs: number): Promise<void> {
  const window = Math.floor(Date.now() / windowMs);
  while (Math.floor(Date.now() / windowMs) === window) await sleep(windowMs - (Date.now() % windowMs) + 1);
}
