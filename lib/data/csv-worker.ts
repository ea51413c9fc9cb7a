// Worker thread of the CSV parse pool: parses blocks of whole lines posted by lib/data/csv-pool and transfers the rows back.
import { parentPort } from 'worker_threads';
import { parseBlock, BlockConfig } from './csv-parse';

/** A block to parse; cfg is null when it is the same as the previous job's (posted once). */
interface Job { id: number; bytes: Uint8Array; firstLine: number; rows: number; cfg: BlockConfig | null; x: Float32Array; y: Float32Array | null }

let current: BlockConfig | null = null;

// Every buffer goes back to the main thread (the bytes for reuse, x and y filled): this thread
// allocates nothing large, so its heap stays small however much it parses.
parentPort?.on('message', (job: Job) => {
  const back = new Set<ArrayBuffer>([job.bytes.buffer as ArrayBuffer, job.x.buffer as ArrayBuffer]);
  if (job.y !== null) back.add(job.y.buffer as ArrayBuffer);
  try {
    if (job.cfg !== null) current = job.cfg;
    if (current === null) throw new Error('no configuration received');
    const r = parseBlock(job.bytes, job.firstLine, job.rows, current, { x: job.x, y: job.y });
    back.add(r.x.buffer as ArrayBuffer);
    if (r.y !== null) back.add(r.y.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: job.id, result: r, bytes: job.bytes }, [...back]);
  } catch (err) {
    parentPort!.postMessage({ id: job.id, failure: `csv: parse worker failed: ${(err as Error).message}`, bytes: job.bytes }, [...back]);
  }
});
