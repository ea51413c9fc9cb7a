// Whole-MLP gradient check: fused autograd gradients vs finite differences of a float64 reimplementation.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { Sequential, Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Module } from '../lib/nn';
import { crossEntropy, mseLoss } from '../lib/nn/losses';
import { backendsUnderTest, freshRng, setBackend } from './helpers/gradcheck';

const { seed, rng } = freshRng();

/** erf in float64 by its Maclaurin series (|x| < 6 here; accurate to ~1e-10 there), saturating beyond. */
function erf64(x: number): number {
  if (x > 6) return 1;
  if (x < -6) return -1;
  let term = x;
  let total = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    total += add;
    if (Math.abs(add) < 1e-17 * Math.abs(total)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * total;
}

type Act = 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh' | 'gelu' | 'geluTanh';
const SLOPE = 0.1;

function act64(act: Act, z: number): number {
  switch (act) {
    case 'relu': return z > 0 ? z : 0;
    case 'leakyRelu': return z > 0 ? z : SLOPE * z;
    case 'sigmoid': return 1 / (1 + Math.exp(-z));
    case 'tanh': return Math.tanh(z);
    case 'gelu': return 0.5 * z * (1 + erf64(z / Math.SQRT2));
    case 'geluTanh': return 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
  }
}

function actModule(act: Act): Module {
  switch (act) {
    case 'relu': return new ReLU();
    case 'leakyRelu': return new LeakyReLU(SLOPE);
    case 'sigmoid': return new Sigmoid();
    case 'tanh': return new Tanh();
    case 'gelu': return new GELU();
    case 'geluTanh': return new GELU({ approximate: 'tanh' });
  }
}

interface Layer64 { W: Float64Array; b: Float64Array; inF: number; outF: number; act: Act | null }

/** Forward of the MLP in float64: the layers' weights (as float64), returning the pre-activations too. */
function forward64(layers: Layer64[], x: Float64Array, rows: number): { out: Float64Array; preacts: Float64Array[] } {
  let h = x;
  const preacts: Float64Array[] = [];
  for (const L of layers) {
    const z = new Float64Array(rows * L.outF);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < L.outF; j++) {
        let s = L.b[j];
        for (let k = 0; k < L.inF; k++) s += h[i * L.inF + k] * L.W[j * L.inF + k];
        z[i * L.outF + j] = s;
      }
    }
    preacts.push(z);
    h = L.act ? z.map((v) => act64(L.act as Act, v)) : z;
  }
  return { out: h, preacts };
}

function crossEntropy64(logits: Float64Array, labels: Int32Array, rows: number, classes: number): number {
  let total = 0;
  for (let i = 0; i < rows; i++) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[i * classes + j]);
    let s = 0;
    for (let j = 0; j < classes; j++) s += Math.exp(logits[i * classes + j] - max);
    total += -(logits[i * classes + labels[i]] - max - Math.log(s));
  }
  return total / rows;
}

function mse64(pred: Float64Array, target: Float32Array): number {
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += (pred[i] - target[i]) ** 2;
  return s / pred.length;
}

const ACTS: Act[] = ['relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu', 'geluTanh'];

describe.each(backendsUnderTest())('MLP gradients vs float64 finite differences on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));

  it.each(ACTS.map((a, i) => [a, ACTS[(i + 2) % ACTS.length]] as const))(
    'Linear+%s -> Linear+%s -> Linear, cross-entropy and MSE losses: every parameter to 1e-3 relative',
    (act1, act2) => {
      const rows = 6;
      const dims = [5, 7, 6, 4];
      const model = new Sequential(
        [new Linear(dims[0], dims[1]), actModule(act1), new Linear(dims[1], dims[2]), actModule(act2), new Linear(dims[2], dims[3])],
        { seed: rng.int(2 ** 31) },
      );
      const linears = model.layers.filter((l): l is Linear => l instanceof Linear);
      const acts: (Act | null)[] = [act1, act2, null];
      // Non-zero biases so the bias gradients are exercised in non-trivial positions.
      for (const L of linears) for (let j = 0; j < L.outFeatures; j++) L.bias!.data[j] = 0.3 * (rng.next() - 0.5);
      const to64 = (): Layer64[] => linears.map((L, i) => ({
        W: Float64Array.from(L.weight.data), b: Float64Array.from(L.bias!.data), inF: L.inFeatures, outF: L.outFeatures, act: acts[i],
      }));
      const h = 1e-5;
      // The ReLU kinks: FD steps of 1e-5 on a weight move a pre-activation by < 1e-4, so redraw the
      // input until every ReLU-family pre-activation is at least 1e-3 from 0.
      let x: Tensor;
      let x64: Float64Array;
      for (let tries = 0; ; tries++) {
        x = new Tensor(Float32Array.from({ length: rows * dims[0] }, () => 2 * rng.next() - 1), [rows, dims[0]]);
        x64 = Float64Array.from(x.data);
        const { preacts } = forward64(to64(), x64, rows);
        const nearKink = preacts.slice(0, 2).some(
          (z, li) => (acts[li] === 'relu' || acts[li] === 'leakyRelu') && z.some((v) => Math.abs(v) < 1e-3),
        );
        if (!nearKink) break;
        if (tries > 100) throw new Error(`seed ${seed}: could not draw an input away from the ReLU kinks`);
      }
      const labels = Int32Array.from({ length: rows }, () => rng.int(dims[3]));
      const target = Float32Array.from({ length: rows * dims[3] }, () => rng.next());

      for (const lossName of ['crossEntropy', 'mse'] as const) {
        const loss64 = (layers: Layer64[]): number => {
          const out = forward64(layers, x64, rows).out;
          return lossName === 'crossEntropy' ? crossEntropy64(out, labels, rows, dims[3]) : mse64(out, target);
        };
        model.zeroGrad();
        const out = model.forward(x);
        // The hidden layers ran as fused kernels: the op recorded is linear+<act>.
        const second = out._node!.inputs[0]._node!;
        expect(second.op).toBe(`linear+${act2}`);
        expect(second.inputs[0]._node!.op).toBe(`linear+${act1}`);
        const loss = lossName === 'crossEntropy' ? crossEntropy(out, labels) : mseLoss(out, new Tensor(target, out.shape));
        expect(loss.item()).toBeCloseTo(loss64(to64()), 5);
        loss.backward();

        const base = to64();
        linears.forEach((L, li) => {
          for (const [pname, arr64, grad] of [['weight', base[li].W, L.weight.grad!], ['bias', base[li].b, L.bias!.grad!]] as const) {
            for (let k = 0; k < arr64.length; k++) {
              const orig = arr64[k];
              arr64[k] = orig + h;
              const up = loss64(base);
              arr64[k] = orig - h;
              const down = loss64(base);
              arr64[k] = orig;
              const numeric = (up - down) / (2 * h);
              const a = grad.data[k];
              const ok = Math.abs(a - numeric) <= 1e-3 * Math.abs(numeric) + 1e-6;
              if (!ok) {
                throw new Error(
                  `seed ${seed}: ${lossName} layer ${li} ${pname}[${k}] (${act1}/${act2}): autograd ${a}, float64 FD ${numeric}`,
                );
              }
            }
          }
        });
      }
    },
  );
});
