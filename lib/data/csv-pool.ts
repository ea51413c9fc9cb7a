// A small pool of worker threads that parse CSV blocks (lib/data/csv-worker) off the main thread.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { BlockConfig, ParsedBlock } from './csv-parse';

/** The compiled worker script, when this module runs from the built package (dist/); null from TypeScript sources. */
export function parseWorkerScript(): string | null {
  const file = path.join(__dirname, 'csv-worker.js');
  return fs.existsSync(file) ? file : null;
}

/** Default pool size: one worker per core the process may use, at most 4. */
export function defaultParseWorkers(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

interface Pending { resolve: (r: ParsedBlock) => void; reject: (e: Error) => void }

/**
 * Parses blocks on `size` worker threads, round-robin. Each block's bytes are copied into a fresh
 * buffer that is transferred (not cloned) to the worker; the parsed rows come back transferred too.
 * The workers are unref'd: an abandoned pool never keeps the process alive.
 */
export class ParsePool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor(script: string, size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(script);
      w.unref();
      w.on('message', (msg: { id: number; result?: ParsedBlock; failure?: string }) => {
        const p = this.pending.get(msg.id);
        if (p === undefined) return;
        this.pending.delete(msg.id);
        if (msg.result !== undefined) p.resolve(msg.result);
        else p.reject(new Error(msg.failure ?? 'csv: parse worker failed'));
      });
      w.on('error', (err) => this.failAll(new Error(`csv: parse worker failed: ${err.message}`)));
      w.on('exit', (code) => { if (code !== 0) this.failAll(new Error(`csv: parse worker exited with code ${code}`)); });
      this.workers.push(w);
    }
  }

  private failAll(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Parses one block of whole lines (see parseBlock). */
  parse(bytes: Uint8Array, firstLine: number, rows: number, cfg: BlockConfig): Promise<ParsedBlock> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    const own = new Uint8Array(bytes.length);
    own.set(bytes);
    const worker = this.workers[id % this.workers.length];
    return new Promise<ParsedBlock>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, bytes: own, firstLine, rows, cfg }, [own.buffer]);
    });
  }

  /** Stops the workers (pending parses reject). */
  async close(): Promise<void> {
    this.failAll(new Error('csv: parse pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
