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
