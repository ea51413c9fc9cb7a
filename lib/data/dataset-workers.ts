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

/**
 * Maps `source`'s elements with fn on `count` worker threads, round-robin, at most 2 x count elements
 * in flight, yielding the results in the source's order. The workers stop when the iteration ends.
 */
export async function* mapOnWorkers<T, U>(source: AsyncIterable<T>, fn: (e: T, i: number) => U | Promise<U>, count: number): AsyncGenerator<U> {
  const src = functionSource(fn);
  const workers: Worker[] = [];
  const waiting = new Map<number, { resolve: (v: U) => void; reject: (e: Error) => void }>();
  let failure: Error | null = null;
  const failAll = (e: Error): void => {
    failure ??= e;
    for (const w of waiting.values()) w.reject(failure);
    waiting.clear();
  };
  for (let k = 0; k < count; k++) {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { source: src } });
    w.unref();
    w.on('message', (r: Reply) => {
      const p = waiting.get(r.id);
      if (p === undefined) return;
      waiting.delete(r.id);
      if (r.error !== undefined) {
        const hint = /is not defined/.test(r.error) ? ' (a map function run on workers must be self-contained: it is sent as source and cannot see variables around it)' : '';
        p.reject(new Error(`Dataset.map: worker: ${r.error}${hint}`));
      } else p.resolve(r.value as U);
    });
    w.on('error', (e) => failAll(new Error(`Dataset.map: worker failed: ${e.message}`)));
    w.on('exit', (code) => { if (code !== 0) failAll(new Error(`Dataset.map: worker exited with code ${code}`)); });
    workers.push(w);
  }
  const inFlight: Promise<U>[] = [];
  const it = source[Symbol.asyncIterator]();
  let index = 0;
  let ended = false;
  try {
    for (;;) {
      while (!ended && inFlight.length < 2 * count) {
        const r = await it.next();
        if (r.done) { ended = true; break; }
        const id = index++;
        const p = failure !== null ? Promise.reject(failure) : new Promise<U>((resolve, reject) => {
          waiting.set(id, { resolve, reject });
          workers[id % count].postMessage({ id, index: id, value: r.value }, collectTransfers(r.value, []));
        });
        p.catch(() => { /* awaited in order below */ });
        inFlight.push(p);
      }
      const next = inFlight.shift();
      if (next === undefined) return;
      yield await next;
    }
  } finally {
    if (!ended) await it.return?.();
    failAll(new Error('Dataset.map: the iteration ended'));
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
