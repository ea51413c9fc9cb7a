// Dataset.map on worker threads: the function goes to a pool as source text, elements go and come back with their owned buffers transferred, in order.
import { Worker } from 'worker_threads';

/**
 * The worker: compiles the function once, then maps each posted element and posts the result back,
 * transferring every typed array that owns its whole buffer (so a batch crosses without a copy).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
${collectTransfers.toString()}
let fn;
try {
  fn = (0, eval)('(' + workerData.source + ')');
  if (typeof fn !== 'function') throw new Error('the source is not a function');
} catch (e) {
  fn = () => { throw new Error('cannot compile the map function on a worker thread (' + e.message + ')'); };
}
parentPort.on('message', async (job) => {
  try {
    const value = await fn(job.value, job.index);
    parentPort.postMessage({ id: job.id, value }, collectTransfers(value, []));
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: (e && e.message) || String(e) });
  }
});
`;

/**
 * The ArrayBuffers of typed arrays in `v` (searched through arrays and plain objects, 3 levels deep)
 * that the array covers entirely: those can be transferred. A view into a larger buffer (a row of a
 * batch) is left to the structured clone, which copies just the view, so the rest stays usable.
 */
export function collectTransfers(v: unknown, out: ArrayBuffer[], depth = 0): ArrayBuffer[] {
  if (v === null || typeof v !== 'object' || depth > 3) return out;
  if (ArrayBuffer.isView(v)) {
    const b = v.buffer;
    if (b instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === b.byteLength && b.byteLength > 0 && !out.includes(b)) out.push(b);
    return out;
  }
  const values = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
  for (const e of values) collectTransfers(e, out, depth + 1);
  return out;
}

/** The function as source a worker can compile: a function expression or an arrow function (not a method shorthand or a native function). */
function functionSource(fn: (...args: never[]) => unknown): string {
  const src = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) throw new Error('Dataset.map: a built-in or bound function cannot run on worker threads (its source is not available): wrap it in an arrow function');
  if (!/^(async\s+)?(function\b|\(|[A-Za-z_$][\w$]*\s*=>)/.test(src)) {
    throw new Error(`Dataset.map: with workers the function is sent as source text, and '${src.slice(0, 40)}...' is not a function expression (write it as an arrow function or function expression)`);
  }
  return src;
}

interface Reply { id: number; value?: unknown; error?: string }

/** How long a map's pool stays up with no iteration reading it (the gap between two epochs, validation included). */
export const POOL_IDLE_MS = 30_000;

/**
 * The worker threads of one Dataset.map({ workers }): started by the first iteration and kept for the
 * next ones (each epoch reads the dataset again), stopped after POOL_IDLE_MS without a reader. Jobs
 * carry pool-wide ids, so iterations that overlap (a dataset zipped with itself) share it safely.
 * The threads are unref'd: an idle pool never keeps the process alive. A worker failure breaks the
 * pool; the next iteration starts a fresh one.
 */
export class MapPool {
  private workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  private nextId = 0;
  private readers = 0;
  private idle: NodeJS.Timeout | null = null;
  /** Pools started so far (tests: one per map, not one per epoch). */
  started = 0;

  private source: string | null = null;

  constructor(private readonly fn: (...args: never[]) => unknown, private readonly count: number) {}

  private start(): void {
    this.failure = null;
    this.started++;
    this.workers = [];
    for (let k = 0; k < this.count; k++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { source: this.source as string } });
      w.unref();
      w.on('message', (r: Reply) => {
        const p = this.waiting.get(r.id);
        if (p === undefined) return;
        this.waiting.delete(r.id);
        if (r.error !== undefined) {
          const hint = /is not defined/.test(r.error) ? ' (a map function run on workers must be self-contained: it is sent as source and cannot see variables around it)' : '';
          p.reject(new Error(`Dataset.map: worker: ${r.error}${hint}`));
        } else p.resolve(r.value);
      });
      w.on('error', (e) => this.fail(new Error(`Dataset.map: worker failed: ${e.message}`)));
      w.on('exit', (code) => { if (code !== 0 && this.workers.includes(w)) this.fail(new Error(`Dataset.map: worker exited with code ${code}`)); });
      this.workers.push(w);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) w.reject(this.failure);
    this.waiting.clear();
  }

  /** An iteration starts reading: the pool is (re)started if it is down or broken. */
  acquire(): void {
    if (this.source === null) this.source = functionSource(this.fn);
    this.readers++;
    if (this.idle !== null) { clearTimeout(this.idle); this.idle = null; }
    if (this.workers.length === 0 || this.failure !== null) {
      if (this.workers.length > 0) void this.stop();
      this.start();
    }
  }

  /** An iteration is done: the last reader out leaves the pool up for POOL_IDLE_MS. */
  release(): void {
    this.readers--;
    if (this.readers > 0) return;
    this.idle = setTimeout(() => { this.idle = null; if (this.readers === 0) void this.stop(); }, POOL_IDLE_MS);
    this.idle.unref();
  }

  /** Stops the threads now (pending jobs reject). */
  async stop(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    this.fail(new Error('Dataset.map: the worker pool stopped'));
    await Promise.all(ws.map((w) => w.terminate()));
  }

  /** Maps one element on the next worker (round-robin); its whole-buffer typed arrays are transferred. */
  run<U>(value: unknown, index: number): Promise<U> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<U>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.workers[id % this.workers.length].postMessage({ id, index, value }, collectTransfers(value, []));
    });
  }
}

/** The pool of a map: made once per Dataset.map call, with the function compiled from its source. */
export function mapPool(fn: (...args: never[]) => unknown, count: number): MapPool {
  return new MapPool(fn, count);
}

/**
 * Maps `source`'s elements on the pool's threads, at most 2 x threads elements in flight, yielding the
 * results in the source's order. The pool outlives the iteration (see MapPool).
 */
export async function* mapOnWorkers<T, U>(source: AsyncIterable<T>, pool: MapPool, count: number): AsyncGenerator<U> {
  pool.acquire();
  const inFlight: Promise<U>[] = [];
  const it = source[Symbol.asyncIterator]();
  let index = 0;
  let ended = false;
  try {
    for (;;) {
      while (!ended && inFlight.length < 2 * count) {
        const r = await it.next();
        if (r.done) { ended = true; break; }
        const p = pool.run<U>(r.value, index++);
        p.catch(() => { /* awaited in order below */ });
        inFlight.push(p);
      }
      const next = inFlight.shift();
      if (next === undefined) return;
      yield await next;
    }
  } finally {
    if (!ended) await it.return?.();
    pool.release();
  }
}
