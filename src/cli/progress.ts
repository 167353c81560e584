import cliProgress from 'cli-progress';

/** Progress of long work: a bar on a terminal, a plain line now and then otherwise. */
export interface Progress {
  /** `n` more items done. */
  advance(n?: number): void;
  /** Ends the display (the bar stays on screen at its final state). */
  stop(): void;
}

/** How often the plain lines are written when standard error is not a terminal. */
const PLAIN_INTERVAL_MS = 2000;

/**
 * Shows how far `label` is through `total` items on `stream` (standard error): a bar when it is a
 * terminal, otherwise a line every two seconds (none for work done sooner), so that logs stay readable.
 */
export function startProgress(
  label: string,
  total: number,
  unit: string,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  let done = 0;
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 200,
      },
      cliProgress.Presets.shades_classic,
    );
    const start = Date.now();
    const rate = () => Math.round(done / Math.max((Date.now() - start) / 1000, 0.001));
    bar.start(total, 0, { rate: 0 });
    return {
      advance(n = 1) {
        done += n;
        bar.update(done, { rate: rate() });
      },
      stop() {
        bar.update(done, { rate: rate() });
        bar.stop();
      },
    };
  }
  const start = Date.now();
  const timer = setInterval(() => {
    const seconds = (Date.now() - start) / 1000;
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    stream.write(`${label}: ${done}/${total} ${unit} (${percent}%), ${Math.round(done / seconds)} ${unit}/s\n`);
  }, PLAIN_INTERVAL_MS);
  timer.unref();
  return {
    advance(n = 1) {
      done += n;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/**
 * Runs `work` on every item with at most `limit` at a time, in order of start; rejects with the
 * first error once the items in flight have settled.
 */
export async function forEachLimited<T>(items: Iterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    for (let next = it.next(); !next.done && !failure; next = it.next()) {
      try {
        await work(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
  if (failure) throw failure.error;
}
