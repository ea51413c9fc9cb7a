// Worker thread of the CSV parse pool: parses blocks of whole lines posted by lib/data/csv-pool and transfers the rows back.
import { parentPort } from 'worker_threads';
import { parseBlock, BlockConfig } from './csv-parse';

interface Job { id: number; bytes: Uint8Array; firstLine: number; rows: number; cfg: BlockConfig }

parentPort?.on('message', (job: Job) => {
  try {
    const r = parseBlock(job.bytes, job.firstLine, job.rows, job.cfg);
    const transfer: ArrayBuffer[] = [r.x.buffer as ArrayBuffer];
    if (r.y !== null) transfer.push(r.y.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: job.id, result: r }, transfer);
  } catch (err) {
    parentPort!.postMessage({ id: job.id, failure: `csv: parse worker failed: ${(err as Error).message}` });
  }
});
