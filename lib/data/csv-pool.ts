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
  /** Byte buffers the workers handed back, reused for later blocks. */
  private readonly spare: ArrayBuffer[] = [];
  /** The configuration each worker holds: posted again only when it changes. */
  private readonly sent: (BlockConfig | null)[] = [];

  constructor(script: string, size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(script);
      w.unref();
      w.on('message', (msg: { id: number; result?: ParsedBlock; failure?: string; bytes?: Uint8Array }) => {
        if (msg.bytes !== undefined && this.spare.length < 2 * size + 2) this.spare.push(msg.bytes.buffer as ArrayBuffer);
        const p = this.pending.get(msg.id);
        if (p === undefined) return;
        this.pending.delete(msg.id);
        if (msg.result !== undefined) p.resolve(msg.result);
        else p.reject(new Error(msg.failure ?? 'csv: parse worker failed'));
      });
      w.on('error', (err) => this.failAll(new Error(`csv: parse worker failed: ${err.message}`)));
      w.on('exit', (code) => { if (code !== 0) this.failAll(new Error(`csv: parse worker exited with code ${code}`)); });
      this.workers.push(w);
      this.sent.push(null);
    }
  }

  private failAll(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Parses one block of whole lines, given as consecutive pieces (see parseBlock). */
  parse(parts: readonly Uint8Array[], length: number, firstLine: number, rows: number, cfg: BlockConfig): Promise<ParsedBlock> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    // The block's pieces are copied once, into a reused buffer when one is big enough; x and y are
    // allocated here and filled there.
    let buf: ArrayBuffer | undefined;
    for (let i = 0; i < this.spare.length; i++) {
      if (this.spare[i].byteLength >= length) { buf = this.spare.splice(i, 1)[0]; break; }
    }
    const own = new Uint8Array(buf ?? new ArrayBuffer(Math.ceil(length * 1.25)), 0, length);
    let off = 0;
    for (const p of parts) { own.set(p, off); off += p.length; }
    const x = new Float32Array(rows * cfg.width);
    const y = cfg.labelIndex >= 0 && cfg.labelMode !== 0 ? new Float32Array(rows) : null;
    const transfer: ArrayBuffer[] = [own.buffer as ArrayBuffer, x.buffer];
    if (y !== null) transfer.push(y.buffer);
    const k = id % this.workers.length;
    const fresh = this.sent[k] !== cfg;
    this.sent[k] = cfg;
    return new Promise<ParsedBlock>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[k].postMessage({ id, bytes: own, firstLine, rows, cfg: fresh ? cfg : null, x, y }, transfer);
    });
  }

  /** Stops the workers (pending parses reject). */
  async close(): Promise<void> {
    this.failAll(new Error('csv: parse pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
