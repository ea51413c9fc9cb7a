// Prediction output: the CSV text writer (header, classes, probabilities, numbers) and an atomic, hashing output sink.
import * as fs from 'fs';
import * as path from 'path';
import { createHash, Hash } from 'crypto';
import { Writable } from 'stream';
import { Tensor } from '../tensor';
import { Module } from '../nn';
import { tempPathFor, fsyncDirSync } from '../io/atomic';
import { buildPlan } from '../serve/plan';
import { predictAsync } from '../serve/predict';
import { checkOutputFile } from '../cli/paths';

/** A CSV cell: quoted when it holds a delimiter, quote or line break. */
export function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Text output with backpressure. Regular files are written to a temp name and renamed into place at
 * the end; devices, FIFOs and sockets (e.g. /dev/null) are written in place; '-' is stdout. Counts
 * the bytes written and their sha256.
 */
export class OutputSink {
  private readonly stream: Writable;
  private readonly tmp: string | null = null;
  private readonly fd: number | null = null;
  private readonly owned: boolean;
  private readonly hash: Hash = createHash('sha256');
  /** Bytes written so far. */
  bytes = 0;

  constructor(private readonly target: string, option = '--output') {
    if (target === '-') {
      this.stream = process.stdout;
      this.owned = false;
      return;
    }
    this.owned = true;
    if (checkOutputFile(target, option) === 'special') {
      this.stream = fs.createWriteStream(target, { flags: 'w' });
    } else {
      this.tmp = tempPathFor(path.resolve(target));
      this.fd = fs.openSync(this.tmp, 'wx', 0o644);
      this.stream = fs.createWriteStream('', { fd: this.fd, autoClose: false });
    }
    // Write errors surface through write()/finish(); this listener keeps a late one from crashing the process.
    this.stream.on('error', () => { /* reported by the pending write or end */ });
  }

  async write(data: string | Buffer): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.hash.update(buf);
    this.bytes += buf.length;
    if (!this.stream.write(buf)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => { this.stream.off('error', onError); resolve(); };
        const onError = (err: Error): void => { this.stream.off('drain', onDrain); reject(err); };
        this.stream.once('drain', onDrain);
        this.stream.once('error', onError);
      });
    }
  }

  /** Hex sha256 of everything written (call once, after the last write). */
  sha256(): string {
    return this.hash.digest('hex');
  }

  /** Destroys the stream, which closes its descriptor exactly once, and waits for that. */
  private close(): Promise<void> {
    const s = this.stream;
    if (s.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.destroy();
    });
  }

  /** Flushes; for files: fsync, close, rename over the target, fsync the directory. */
  async finish(): Promise<void> {
    if (!this.owned) return;
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (this.tmp === null || this.fd === null) {
      await this.close();
      return;
    }
    fs.fsyncSync(this.fd);
    await this.close();
    fs.renameSync(this.tmp, path.resolve(this.target));
    fsyncDirSync(path.dirname(path.resolve(this.target)));
  }

  /** After a failure: closes the stream (once) and removes the temp file. */
  async abort(): Promise<void> {
    if (!this.owned) return;
    await this.close();
    if (this.tmp !== null) {
      try { fs.unlinkSync(this.tmp); } catch { /* already gone */ }
    }
  }
}

/**
 * A number with `precision` significant digits, as String(Number(v.toPrecision(precision))) writes it
 * (shortest form, no trailing zeros). Up to 15 digits a plain toPrecision result is already that
 * shortest form once its trailing zeros are cut (every decimal of <= 15 digits is a distinct double),
 * which saves the parse and print of a million probabilities.
 */
export function formatNumber(v: number, precision: number): string {
  if (Number.isInteger(v)) return String(v);
  const t = v.toPrecision(precision);
  if (precision > 15 || t.indexOf('e') >= 0) return String(Number(t));
  if (t.indexOf('.') < 0) return t;
  let end = t.length;
  while (t.charCodeAt(end - 1) === 48) end--;
  if (t.charCodeAt(end - 1) === 46) end--;
  return t.slice(0, end);
}

function softmaxRows(out: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let mx = -Infinity;
    for (let j = 0; j < n; j++) mx = Math.max(mx, out[o + j]);
    let s = 0;
    for (let j = 0; j < n; j++) { out[o + j] = Math.exp(out[o + j] - mx); s += out[o + j]; }
    for (let j = 0; j < n; j++) out[o + j] /= s;
  }
}

/** Runs one batch: predictAsync when the model is plannable, else the synchronous predict. */
export type BatchRunner = (x: Float32Array, rows: number) => Promise<Float32Array>;

/** `sample`: the shape of one row as the model takes it (default [features]; [1, 28, 28] for an image model). */
export function makeRunner(model: Module, features: number, sample: readonly number[] = [features]): { run: BatchRunner; endsWithSoftmax: boolean } {
  const shaped = sample.length > 1;
  try {
    if (shaped) throw new Error('image rows run through predict'); // the dense planner takes flat rows
    const plan = buildPlan(model);
    return {
      run: async (x) => (await predictAsync(model, x, { batchSize: 1 << 30, features })).data,
      endsWithSoftmax: plan.softmax,
    };
  } catch {
    const cfg = model.toConfig() as { layers?: { type: string }[] };
    const last = cfg.layers?.[cfg.layers.length - 1]?.type;
    return {
      run: async (x, rows) => model.predict(new Tensor(x, [rows, ...(shaped ? sample : [features])])).data,
      endsWithSoftmax: last === 'Softmax',
    };
  }
}

export type OutputTask = 'classification' | 'regression' | 'raw';

export interface PredictionFormat {
  task: OutputTask;
  classNames: string[] | null;
  probabilities: boolean;
  precision: number;
  endsWithSoftmax: boolean;
}

/** Turns batches of network outputs into prediction CSV text: the header line, then one line per row. */
export class PredictionWriter {
  private readonly names: string[] | null;

  constructor(private readonly f: PredictionFormat) {
    this.names = f.classNames?.map(csvCell) ?? null;
  }

  /** The header line (with '\n') for a model with `n` outputs. */
  header(n: number): string {
    const { task, classNames, probabilities } = this.f;
    const cols = task === 'classification'
      ? ['class', ...(probabilities ? Array.from({ length: n }, (_, j) => (classNames !== null && n > 1 ? csvCell(`p_${classNames[j]}`) : `p${j}`)) : [])]
      : Array.from({ length: n }, (_, j) => (n === 1 ? 'prediction' : `y${j}`));
    return cols.join(',') + '\n';
  }

  /** The lines (with a final '\n') of one batch of outputs ([rows, n], softmaxed in place when probabilities are asked for). */
  lines(rows: number, out: Float32Array): string {
    const { task, classNames, probabilities, precision } = this.f;
    const n = out.length / rows;
    if (task === 'classification' && !this.f.endsWithSoftmax && probabilities) softmaxRows(out, rows, n);
    if (classNames !== null && task === 'classification' && n > 1 && classNames.length !== n) {
      throw new Error(`predict: the model has ${n} outputs but ${classNames.length} class names`);
    }
    const lines: string[] = new Array(rows);
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      if (task === 'classification') {
        let best = 0;
        if (n === 1) best = out[o] > 0 ? 1 : 0;
        else for (let j = 1; j < n; j++) if (out[o + j] > out[o + best]) best = j;
        const cls = this.names !== null ? this.names[best] : String(best);
        if (!probabilities) { lines[r] = cls; continue; }
        const cells = [cls];
        for (let j = 0; j < n; j++) cells.push(formatNumber(out[o + j], precision));
        lines[r] = cells.join(',');
      } else {
        const cells: string[] = [];
        for (let j = 0; j < n; j++) cells.push(formatNumber(out[o + j], precision));
        lines[r] = cells.join(',');
      }
    }
    return lines.join('\n') + '\n';
  }
}
