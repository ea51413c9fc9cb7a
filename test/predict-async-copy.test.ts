// predictAsync's default input copy on the native pool path (each worker copies the rows of its own block, the
// JS thread waits until every block is copied and copies any block no worker has started): results equal
// predict's bit for bit at awkward batch sizes and 1-8 threads, and the caller may overwrite x as soon as
// predictAsync returns.
import { describe, expect, it } from 'vitest';
import { randn } from '../lib/tensor';
import { Linear, ReLU, Sequential, Softmax, Tanh } from '../lib/nn';
import { predictAsync } from '../lib/serve';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import { freshSeed } from './helpers/reference';

const SEED = freshSeed();
const native = backendsUnderTest().find((b) => b.label === 'native');

/** The indices where a and b differ in their bits (NaN payloads and -0 included). */
function bitDifferences(a: Float32Array, b: Float32Array): number[] {
  expect(a.length).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const out: number[] = [];
  for (let i = 0; i < ua.length && out.length < 5; i++) if (ua[i] !== ub[i]) out.push(i);
  return out;
}

describe.runIf(native !== undefined)(`predictAsync copies its input on the pool's workers (seed ${SEED}; replay with MYELIN_TEST_SEED=${SEED})`, () => {
  it('equals predict bit for bit at 1, 3, 17, 65, 257 and 1024 rows and 1-8 threads, with x overwritten right after the call', async () => {
    const backend = requireBackend(native!);
    // 300 -> 256 -> 96 -> 10: from 65 rows the stack splits into row blocks (4e6 multiply-adds each), so the
    // workers take the call and copy the rows; 1-17 rows go through the batcher or a libuv worker.
    const m = new Sequential(
      new Linear(300, 256, { seed: SEED % 100_000 }), new ReLU(),
      new Linear(256, 96, { seed: (SEED % 100_000) + 1 }), new Tanh(),
      new Linear(96, 10, { seed: (SEED % 100_000) + 2 }), new Softmax(),
    );
    m.eval();
    const threadsBefore = backend.info().threads;
    try {
      for (const threads of [1, 2, 3, 8]) {
        backend.setNumThreads(threads);
        for (const rows of [1, 3, 17, 65, 257, 1024]) {
          const x = randn([rows, 300], { seed: SEED + rows * 31 + threads });
          const want = m.predict(x).data;
          const label = `${rows} rows, ${threads} threads, seed ${SEED}`;
          expect(bitDifferences((await predictAsync(m, x)).data, want), label).toEqual([]);
          // Several calls in flight at once (the later ones find the pool busy and take the libuv path), each
          // with its x overwritten as soon as predictAsync returns: the results are the rows as they were.
          const copies = [0, 1, 2].map(() => x.clone());
          const pending = copies.map((c) => {
            const p = m.predictAsync(c);
            c.data.fill(Number.NaN);
            return p;
          });
          for (const p of pending) expect(bitDifferences((await p).data, want), `${label}, x overwritten`).toEqual([]);
        }
      }
    } finally {
      backend.setNumThreads(threadsBefore);
    }
  });
});
