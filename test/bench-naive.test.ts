// Tests that the benchmark's naive pure-JS baselines compute the right thing (they are timed against myelin).
import { describe, it, expect } from 'vitest';
import { Sequential, Linear, ReLU, crossEntropy } from '../lib/nn';
import { Adam } from '../lib/optim';
import { tensor } from '../lib/tensor';
import { setBackend } from '../lib/backend/select';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { naiveGemm, naiveActivation, naiveSoftmax, erf } = require('../bench/lib/naive.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { NaiveMlp } = require('../bench/lib/naive-mlp.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { rng, randomArray, randomLabels } = require('../bench/lib/cases.js');

const seed = (Date.now() ^ (process.pid << 10)) >>> 0;
function withSeed(fn: () => void) {
  try {
    fn();
  } catch (e) {
    console.error(`bench-naive seed ${seed}`);
    throw e;
  }
}

describe('naive JS baselines', () => {
  it('naiveGemm matches a float64 reference on random shapes', () =>
    withSeed(() => {
      const r = rng(seed);
      for (let t = 0; t < 10; t++) {
        const [M, N, K] = [1 + Math.floor(r() * 17), 1 + Math.floor(r() * 17), 1 + Math.floor(r() * 33)];
        const A = randomArray(M * K, seed + t);
        const B = randomArray(K * N, seed + 100 + t);
        const C = new Float32Array(M * N).fill(NaN);
        naiveGemm(M, N, K, A, B, C);
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
            expect(Math.abs(C[i * N + j] - s)).toBeLessThan(1e-5 * (1 + Math.abs(s)) * K);
          }
        }
      }
    }));

  it('naive activations and softmax match their definitions', () =>
    withSeed(() => {
      const n = 257;
      const x = randomArray(n, seed, -6, 6);
      const out = new Float32Array(n);
      naiveActivation.relu(n, x, out);
      for (let i = 0; i < n; i++) expect(out[i]).toBe(Math.max(0, x[i]));
      naiveActivation.sigmoid(n, x, out);
      for (let i = 0; i < n; i++) expect(out[i]).toBeCloseTo(1 / (1 + Math.exp(-x[i])), 6);
      naiveActivation.tanh(n, x, out);
      for (let i = 0; i < n; i++) expect(out[i]).toBeCloseTo(Math.tanh(x[i]), 6);
      naiveActivation.gelu(n, x, out);
      expect(erf(0)).toBeCloseTo(0, 7);
      expect(erf(1)).toBeCloseTo(0.8427007929, 6);
      expect(erf(-2)).toBeCloseTo(-0.995322265, 6);
      for (let i = 0; i < n; i++) expect(out[i]).toBeCloseTo(0.5 * x[i] * (1 + erf(x[i] / Math.SQRT2)), 5);
      const sm = new Float32Array(n - 1);
      naiveSoftmax(8, 32, x, sm);
      for (let row = 0; row < 8; row++) {
        let s = 0;
        for (let j = 0; j < 32; j++) s += sm[row * 32 + j];
        expect(s).toBeCloseTo(1, 5);
      }
    }));

  it('NaiveMlp forward and one Adam step match myelin (pure-TS backend) with the same weights', () =>
    withSeed(() => {
      setBackend('js');
      const sizes = [12, 9, 7, 4];
      const B = 5;
      const net = new NaiveMlp(sizes, rng(seed));
      const model = new Sequential(new Linear(12, 9), new ReLU(), new Linear(9, 7), new ReLU(), new Linear(7, 4));
      model.loadStateDict({
        '0.weight': net.W[0].slice(), '0.bias': randomArray(9, seed + 1, -0.1, 0.1),
        '2.weight': net.W[1].slice(), '2.bias': randomArray(7, seed + 2, -0.1, 0.1),
        '4.weight': net.W[2].slice(), '4.bias': randomArray(4, seed + 3, -0.1, 0.1),
      });
      const sd = model.stateDict();
      net.b = [sd['0.bias'].data.slice(), sd['2.bias'].data.slice(), sd['4.bias'].data.slice()];
      const x = randomArray(B * 12, seed + 4, -1, 1);
      const y = randomLabels(B, 4, seed + 5);
      const acts = net.forward(x, B);
      const logits = model.forward(tensor(x, [B, 12]));
      for (let i = 0; i < B * 4; i++) expect(acts[3][i]).toBeCloseTo(logits.data[i], 5);
      const opt = new Adam(model.parameters(), { lr: 1e-3 });
      for (let step = 0; step < 3; step++) {
        opt.zeroGrad();
        crossEntropy(model.forward(tensor(x, [B, 12])), y).backward();
        opt.step();
        net.trainStep(x, y, B);
      }
      const after = model.stateDict();
      const names = ['0.weight', '2.weight', '4.weight', '0.bias', '2.bias', '4.bias'];
      const mine = [...net.W, ...net.b];
      names.forEach((name, p) => {
        const ref = after[name].data;
        for (let i = 0; i < ref.length; i++) expect(mine[p][i]).toBeCloseTo(ref[i], 4);
      });
    }));
});
