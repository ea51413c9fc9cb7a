// Finite-difference gradient checks of the convolution and pooling ops on random configurations, on each backend.
import { beforeAll, describe, it } from 'vitest';
import * as ops from '../lib/ops';
import { backendsUnderTest, freshRng, gradcheck, ladderTensor, randomTensor, setBackend } from './helpers/gradcheck';

const { seed, rng } = freshRng();
const label = (what: string): string => `${what} (seed ${seed})`;
const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];

describe.each(backendsUnderTest())('conv and pool gradients vs finite differences on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));

  it('conv2d: stride, padding, dilation, groups (incl. depthwise), with and without bias', () => {
    for (let t = 0; t < 8; t++) {
      const groups = pick([1, 1, 2, 3]);
      const cg = pick([1, 2]);
      const ocg = pick([1, 2]);
      const C = groups * cg;
      const OC = groups * ocg;
      const kh = pick([1, 2, 3]);
      const kw = pick([1, 3]);
      const stride: [number, number] = [pick([1, 2]), pick([1, 2])];
      const dilation: [number, number] = [pick([1, 2]), 1];
      const padding: [number, number] = [pick([0, 1]), pick([0, 2])];
      const H = dilation[0] * (kh - 1) + 1 + rng.int(4);
      const W = kw + rng.int(4);
      const x = randomTensor(rng, [pick([1, 2]), C, H, W]);
      const w = randomTensor(rng, [OC, cg, kh, kw]);
      const b = randomTensor(rng, [OC]);
      const opts = { stride, padding, dilation, groups };
      const what = label(`conv2d x[${x.shape}] w[${w.shape}] ${JSON.stringify(opts)}`);
      if (t % 2 === 0) gradcheck(([a, k, c]) => ops.conv2d(a, k, c, opts), [x, w, b], { label: what });
      else gradcheck(([a, k]) => ops.conv2d(a, k, null, opts), [x, w], { label: what });
    }
  });

  it("conv2d padding 'same' (odd and even kernels) and conv1d", () => {
    const x = randomTensor(rng, [2, 2, 5, 4]);
    for (const k of [[3, 3], [2, 4], [1, 2]]) {
      const w = randomTensor(rng, [3, 2, k[0], k[1]]);
      gradcheck(([a, b]) => ops.conv2d(a, b, null, { padding: 'same' }), [x, w], { label: label(`same ${k}`) });
    }
    const x1 = randomTensor(rng, [2, 4, 7]);
    const w1 = randomTensor(rng, [2, 2, 3]);
    const b1 = randomTensor(rng, [2]);
    gradcheck(([a, k, c]) => ops.conv1d(a, k, c, { stride: 2, padding: 1, groups: 2 }), [x1, w1, b1], { label: label('conv1d') });
    gradcheck(([a, k]) => ops.conv1d(a, k, null, { padding: 'same', dilation: 2, groups: 2 }), [x1, w1], { label: label('conv1d same') });
  });

  it('conv2d / conv1d with a fused relu or leakyRelu epilogue: the unfused ops\' values and gradients; finite differences off the kink', () => {
    for (let t = 0; t < 6; t++) {
      const epi = t % 2 === 0 ? { act: 'relu' as const, alpha: 0 } : { act: 'leakyRelu' as const, alpha: 0.2 };
      const opts = { padding: pick([1, 'same' as const]), groups: pick([1, 2]) };
      const x = randomTensor(rng, [pick([1, 3]), 4, 3 + rng.int(4), 2 + rng.int(4)]);
      const w = randomTensor(rng, [4, 4 / opts.groups, pick([2, 3]), pick([1, 2])]);
      const b = randomTensor(rng, [4]);
      let proj: ReturnType<typeof randomTensor> | null = null; // one projection of the output for both runs
      const run = (fused: boolean): Float32Array[] => {
        for (const p of [x, w, b]) p.grad = null;
        const y = fused ? ops.conv2d(x, w, b, opts, epi) : ops.activate(ops.conv2d(x, w, b, opts), epi.act, epi.alpha);
        proj ??= ladderTensor(rng, y.shape);
        ops.mul(y, proj).sum().backward();
        return [y.data, x.grad!.data, w.grad!.data, b.grad!.data].map((d) => Float32Array.from(d));
      };
      const fused = run(true);
      const plain = run(false);
      fused.forEach((d, k) => d.forEach((v, i) => {
        if (Math.abs(v - plain[k][i]) > 1e-5 * (1 + Math.abs(plain[k][i]))) throw new Error(label(`fused ${epi.act} ${JSON.stringify(opts)}: output ${k} at ${i}: ${v} vs ${plain[k][i]}`));
      }));
    }
    // Finite differences where every pre-activation is positive (relu: identity) or negative (leakyRelu: slope alpha).
    const pos = (shape: number[]): ReturnType<typeof randomTensor> => {
      const t = randomTensor(rng, shape);
      t.data.forEach((v, i, a) => { a[i] = Math.abs(v) + 0.1; });
      return t;
    };
    const x = pos([2, 2, 4, 4]);
    const w = pos([3, 2, 3, 3]);
    gradcheck(([a, k]) => ops.conv2d(a, k, null, { padding: 1 }, { act: 'relu', alpha: 0 }), [x, w], { label: label('conv2d + relu (positive)') });
    gradcheck(([a, k]) => ops.conv2d(ops.neg(a), k, null, { padding: 1 }, { act: 'leakyRelu', alpha: 0.2 }), [x, w], { label: label('conv2d + leakyRelu (negative)') });
    gradcheck(([a, k]) => ops.conv1d(a, k, null, { padding: 1 }, { act: 'relu', alpha: 0 }), [pos([2, 2, 7]), pos([3, 2, 3])], { label: label('conv1d + relu (positive)') });
  });

  it('maxPool2d / maxPool1d (distinct values): kernel, stride, padding, dilation, ceil mode', () => {
    for (let t = 0; t < 6; t++) {
      const k: [number, number] = [pick([1, 2, 3]), pick([2, 3])];
      const opts = {
        stride: [pick([1, 2]), pick([1, 2, 3])] as [number, number],
        padding: [rng.int(Math.floor(k[0] / 2) + 1), rng.int(Math.floor(k[1] / 2) + 1)] as [number, number],
        dilation: [pick([1, 2]), 1] as [number, number],
        ceilMode: rng.int(2) === 1,
      };
      const x = ladderTensor(rng, [pick([1, 2]), pick([1, 3]), 2 * k[0] + rng.int(4), k[1] + rng.int(5)]);
      gradcheck(([a]) => ops.maxPool2d(a, k, opts), [x], { label: label(`maxPool2d x[${x.shape}] k${k} ${JSON.stringify(opts)}`) });
    }
    const x1 = ladderTensor(rng, [2, 3, 9]);
    gradcheck(([a]) => ops.maxPool1d(a, 3, { stride: 2, padding: 1, ceilMode: true }), [x1], { label: label('maxPool1d') });
  });

  it('avgPool2d / avgPool1d: padding counted or not, ceil mode; adaptiveAvgPool2d incl. global', () => {
    for (let t = 0; t < 6; t++) {
      const k: [number, number] = [pick([1, 2, 3]), pick([2, 3])];
      const opts = {
        stride: [pick([1, 2]), pick([1, 2, 3])] as [number, number],
        padding: [rng.int(Math.floor(k[0] / 2) + 1), rng.int(Math.floor(k[1] / 2) + 1)] as [number, number],
        ceilMode: rng.int(2) === 1,
        countIncludePad: rng.int(2) === 1,
      };
      const x = randomTensor(rng, [pick([1, 2]), pick([1, 3]), k[0] + rng.int(4), k[1] + rng.int(5)]);
      gradcheck(([a]) => ops.avgPool2d(a, k, opts), [x], { label: label(`avgPool2d x[${x.shape}] k${k} ${JSON.stringify(opts)}`) });
    }
    const x1 = randomTensor(rng, [2, 3, 8]);
    gradcheck(([a]) => ops.avgPool1d(a, 3, { stride: 2, padding: 1, countIncludePad: false }), [x1], { label: label('avgPool1d') });
    const x2 = randomTensor(rng, [2, 3, 7, 5]);
    for (const size of [1, 3, [2, 4]] as const) {
      gradcheck(([a]) => ops.adaptiveAvgPool2d(a, size), [x2], { label: label(`adaptiveAvgPool2d ${size}`) });
    }
  });
});
