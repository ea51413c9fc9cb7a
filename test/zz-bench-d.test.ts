import { it } from 'vitest';
import { randn } from '../lib/tensor';
import { Sequential, Linear, ReLU } from '../lib/nn';
import { crossEntropy } from '../lib/nn/losses';
import { setBackend, getBackend } from '../lib/backend/select';
it('bench', () => {
  setBackend('native');
  const bk = getBackend();
  const model = new Sequential([new Linear(784, 256), new ReLU(), new Linear(256, 128), new ReLU(), new Linear(128, 10)], { seed: 1 });
  const x = randn([128, 784], { seed: 2 });
  const y = Int32Array.from({ length: 128 }, (_, i) => i % 10);
  const p = model.parameters().map((t) => t.data);
  const F = (n: number) => new Float32Array(n);
  const kernelsFresh = () => {
    const h1 = F(128 * 256), h2 = F(128 * 128), o = F(128 * 10), g = F(128 * 10);
    const dW3 = F(1280), dB3 = F(10), dX3 = F(128 * 128), dz3 = F(1280);
    const dW2 = F(128 * 256), dB2 = F(128), dX2 = F(128 * 256), dz2 = F(128 * 128);
    const dW1 = F(256 * 784), dB1 = F(256), dz1 = F(128 * 256);
    bk.linearForward(128, 256, 784, x.data, p[0], p[1], 'relu', 0, h1, null);
    bk.linearForward(128, 128, 256, h1, p[2], p[3], 'relu', 0, h2, null);
    bk.linearForward(128, 10, 128, h2, p[4], p[5], 'none', 0, o, null);
    bk.softmaxCrossEntropy(128, 10, o, y, g, null);
    bk.linearBackward(128, 10, 128, h2, p[4], o, null, g, 'none', 0, dz3, dX3, dW3, dB3, false);
    bk.linearBackward(128, 128, 256, h1, p[2], h2, null, dX3, 'relu', 0, dz2, dX2, dW2, dB2, false);
    bk.linearBackward(128, 256, 784, x.data, p[0], h1, null, dX2, 'relu', 0, dz1, null, dW1, dB1, false);
  };
  const P = (n: number) => new Float32Array(n);
  const h1 = P(128 * 256), h2 = P(128 * 128), o = P(128 * 10), g = P(128 * 10);
  const dW3 = P(1280), dB3 = P(10), dX3 = P(128 * 128), dz3 = P(1280);
  const dW2 = P(128 * 256), dB2 = P(128), dX2 = P(128 * 256), dz2 = P(128 * 128);
  const dW1 = P(256 * 784), dB1 = P(256), dz1 = P(128 * 256);
  const kernelsPre = () => {
    bk.linearForward(128, 256, 784, x.data, p[0], p[1], 'relu', 0, h1, null);
    bk.linearForward(128, 128, 256, h1, p[2], p[3], 'relu', 0, h2, null);
    bk.linearForward(128, 10, 128, h2, p[4], p[5], 'none', 0, o, null);
    bk.softmaxCrossEntropy(128, 10, o, y, g, null);
    bk.linearBackward(128, 10, 128, h2, p[4], o, null, g, 'none', 0, dz3, dX3, dW3, dB3, false);
    bk.linearBackward(128, 128, 256, h1, p[2], h2, null, dX3, 'relu', 0, dz2, dX2, dW2, dB2, false);
    bk.linearBackward(128, 256, 784, x.data, p[0], h1, null, dX2, 'relu', 0, dz1, null, dW1, dB1, false);
  };
  const step = () => { model.zeroGrad(); crossEntropy(model.forward(x), y).backward(); };
  let ta = 0, tb = 0, tc = 0;
  for (let i = 0; i < 220; i++) {
    const a = performance.now(); step(); const b = performance.now(); kernelsFresh(); const c = performance.now(); kernelsPre(); const d = performance.now();
    if (i >= 20) { ta += b - a; tb += c - b; tc += d - c; }
  }
  console.log('autograd fwd+bwd', (ta / 200).toFixed(3), 'kernels with fresh buffers', (tb / 200).toFixed(3), 'kernels preallocated', (tc / 200).toFixed(3));
});
