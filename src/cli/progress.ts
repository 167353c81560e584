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
export function startProgress(label: string, total: number, unit: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  let done = 0;
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 5000,
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

/** `1 store`, `2 stores`: a count and its word for the summaries. */
export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A rate for the summaries, whole units per second. */
export const perSecond = (n: number, ms: number) => Math.round(n / Math.max(ms / 1000, 0.001));
