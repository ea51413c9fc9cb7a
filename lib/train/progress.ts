// fit() progress output: a cli-progress bar per epoch on a TTY, one summary line per epoch otherwise.
import { SingleBar } from 'cli-progress';
import type { EpochLogs } from './types';

/** A writable text stream (process.stdout by default); isTTY selects the bar. */
export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/** What fit tells the progress display. */
export interface ProgressReporter {
  epochBegin(epoch: number, epochs: number, samples: number): void;
  /** After each batch: rows seen so far this epoch and the running loss / accuracy. */
  batch(seen: number, loss: number, accuracy: number | undefined): void;
  epochEnd(epoch: number, epochs: number, logs: EpochLogs, samplesPerSecond: number): void;
  /** Stops any live bar (on abort or error). */
  close(): void;
}

/** 4 significant decimals for losses/metrics, scientific for very small or large values. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return v.toFixed(4);
}

function formatRate(samplesPerSecond: number): string {
  return `${Math.round(samplesPerSecond).toLocaleString('en-US')} samples/s`;
}

/** The "key value" pairs of an epoch's logs, in a stable order: loss, metrics, val*, lr. */
export function formatLogs(logs: EpochLogs): string {
  const keys = Object.keys(logs).filter((k) => k !== 'seconds' && k !== 'lr' && logs[k] !== undefined);
  const train = keys.filter((k) => !k.startsWith('val'));
  const val = keys.filter((k) => k.startsWith('val'));
  const order = [...train.filter((k) => k === 'loss'), ...train.filter((k) => k !== 'loss'), ...val];
  return order.map((k) => `${k} ${formatValue(logs[k] as number)}`).join(' - ');
}

/** The one-line summary of an epoch printed when the output is not a TTY. */
export function epochSummaryLine(epoch: number, epochs: number, logs: EpochLogs, samplesPerSecond: number): string {
  return `Epoch ${epoch + 1}/${epochs} - ${logs.seconds.toFixed(1)}s - ${formatRate(samplesPerSecond)} - ` +
    `${formatLogs(logs)} - lr ${Number(logs.lr.toPrecision(4))}`;
}

/** Plain output: nothing during the epoch, one summary line at its end. */
export class LineProgress implements ProgressReporter {
  constructor(private readonly stream: ProgressStream) {}
  epochBegin(): void {}
  batch(): void {}
  epochEnd(epoch: number, epochs: number, logs: EpochLogs, samplesPerSecond: number): void {
    this.stream.write(epochSummaryLine(epoch, epochs, logs, samplesPerSecond) + '\n');
  }
  close(): void {}
}

/** TTY output: one cli-progress bar per epoch with loss, accuracy, samples/s and time left. */
export class BarProgress implements ProgressReporter {
  private bar: SingleBar | null = null;
  private started = 0;

  constructor(private readonly stream: ProgressStream) {}

  epochBegin(epoch: number, epochs: number, samples: number): void {
    this.close();
    this.bar = new SingleBar({
      stream: this.stream as unknown as NodeJS.WritableStream,
      format: `Epoch ${epoch + 1}/${epochs} [{bar}] {value}/{total} | {stats} | {rate} | ETA {eta_formatted}`,
      barsize: 24,
      hideCursor: false,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 10,
      etaBuffer: 50,
    });
    this.started = Date.now();
    this.bar.start(samples, 0, { stats: 'loss -', rate: '- samples/s' });
  }

  batch(seen: number, loss: number, accuracy: number | undefined): void {
    if (!this.bar) return;
    const seconds = Math.max((Date.now() - this.started) / 1000, 1e-3);
    const stats = `loss ${formatValue(loss)}` + (accuracy === undefined ? '' : ` - accuracy ${formatValue(accuracy)}`);
    this.bar.update(seen, { stats, rate: formatRate(seen / seconds) });
  }

  epochEnd(_epoch: number, _epochs: number, logs: EpochLogs, samplesPerSecond: number): void {
    if (!this.bar) return;
    this.bar.update({ stats: formatLogs(logs), rate: `${formatRate(samplesPerSecond)} - ${logs.seconds.toFixed(1)}s` });
    this.bar.stop();
    this.bar = null;
  }

  close(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }
}

/** Silent output (verbose 0). */
export class NoProgress implements ProgressReporter {
  epochBegin(): void {}
  batch(): void {}
  epochEnd(): void {}
  close(): void {}
}

/**
 * Picks the display: verbose 0 silent; 1 (default) a bar on a TTY and summary lines otherwise;
 * 2 summary lines always.
 */
export function makeProgress(verbose: 0 | 1 | 2, stream: ProgressStream): ProgressReporter {
  if (verbose === 0) return new NoProgress();
  if (verbose === 1 && stream.isTTY === true) return new BarProgress(stream);
  return new LineProgress(stream);
}
