// Tensors users can reach own their whole ArrayBuffer: transferring one result's buffer (postMessage, structuredClone) leaves every other result intact.
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Tensor, tensor, ones, full, arange } from '../lib/tensor';
import { Sequential, Linear, ReLU, Tanh, GELU, Dropout, Flatten, Softmax, Sigmoid } from '../lib/nn';
import { crossEntropy, mseLoss, huberLoss, bceWithLogits } from '../lib/nn/losses';
import * as ops from '../lib/ops';
import { SGD } from '../lib/optim';
import { setBufferPooling } from '../lib/buffer-pool';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';

afterEach(() => setBufferPooling(true));

/** Every kind of small result a user gets from the public API (each a handful of elements). */
function smallResults(): [string, Tensor][] {
  const x = tensor([[0.5, -1, 2], [1.5, 0.25, -0.75]]);
  const w = new Linear(3, 4, { seed: 1 });
  const model = new Sequential([new Linear(3, 5), new ReLU(), new Linear(5, 4), new Tanh(), new Linear(4, 2)], { seed: 2 });
  const withView = new Sequential([new Linear(3, 4), new GELU(), new Dropout(0.5), new Flatten()], { seed: 3 }).eval();
  const softmaxModel = new Sequential([new Linear(3, 4), new Sigmoid(), new Linear(4, 3), new Softmax()], { seed: 4 });
  const labels = new Int32Array([0, 2]);
  const out: [string, Tensor][] = [
    ['relu', x.relu()],
    ['sigmoid', x.sigmoid()],
    ['gelu', x.gelu()],
    ['softmax', x.softmax()],
    ['logSoftmax', x.logSoftmax()],
    ['sum', x.sum()],
    ['mean axis', x.mean(0)],
    ['max', x.max(1)],
    ['add', x.add(1)],
    ['mul', x.mul(x)],
    ['linear op', ops.linear(x, w.weight, w.bias, 'relu')],
    ['Linear.forward', w.forward(x)],
    ['Sequential.forward', model.forward(x)],
    ['Sequential.forward ending in Dropout(eval)+Flatten', withView.forward(x)],
    ['Sequential.forward ending in Softmax', softmaxModel.forward(x)],
    ['predict', model.predict(x)],
    ['predict (Float32Array)', model.predict(new Float32Array([1, 2, 3]), { features: 3 })],
    ['crossEntropy', crossEntropy(ops.linear(x, w.weight, w.bias).slice(0, 2), labels)],
    ['crossEntropy none', crossEntropy(ops.linear(x, w.weight, w.bias), labels, { reduction: 'none' })],
    ['mseLoss', mseLoss(x, x.mul(2))],
    ['huberLoss none', huberLoss(x, x.mul(3), { reduction: 'none' })],
    ['bceWithLogits', bceWithLogits(x, x.sigmoid())],
    ['dropout train', ops.dropout(x, 0.5, true)],
    ['full', full([2, 2], 3)],
    ['ones', ones([3])],
    ['arange', arange(5)],
  ];
  // Gradients are user-visible too.
  const p = tensor([1, 2, 3], undefined, { requiresGrad: true });
  p.relu().sum().backward();
  out.push(['leaf grad', p.grad as Tensor]);
  const model2 = new Sequential([new Linear(3, 2), new ReLU(), new Linear(2, 2)], { seed: 5 });
  const opt = new SGD(model2.parameters(), { lr: 0.1 });
  mseLoss(model2.forward(x), ones([2, 2])).backward();
  opt.step();
  model2.parameters().forEach((q, i) => out.push([`parameter ${i} grad`, q.grad as Tensor]));
  return out;
}

describe.each(backendsUnderTest())('result buffers are owned (%s backend)', (backend) => {
  for (const pooling of [true, false]) {
    it(`every small result owns its whole ArrayBuffer (pooling ${pooling ? 'on' : 'off'})`, () => {
      setBackend(backend);
      setBufferPooling(pooling);
      for (const [name, t] of smallResults()) {
        expect(t.size, name).toBeGreaterThan(0);
        expect(t.data.byteOffset, name).toBe(0);
        expect(t.data.buffer.byteLength, `${name}: the result shares an ArrayBuffer with other data`).toBe(t.data.byteLength);
      }
    });
  }

  it('transferring one predict() result leaves earlier results intact (structuredClone transfer)', () => {
    setBackend(backend);
    const model = new Sequential([new Linear(4, 8), new ReLU(), new Linear(8, 3)], { seed: 7 });
    const inputs = Array.from({ length: 20 }, (_, i) => tensor([[i, 1, -i, 0.5]]));
    const results = inputs.map((x) => model.predict(x));
    const before = results.map((r) => r.toArray());
    const sums = results.map((r) => r.sum().item());
    expect(sums.some((s) => s !== 0)).toBe(true);
    const moved = results[7].data.buffer;
    const clone = structuredClone(moved, { transfer: [moved] });
    expect(results[7].data.length, 'the transferred result is detached').toBe(0);
    expect(new Float32Array(clone)).toEqual(Float32Array.from((before[7] as number[][]).flat()));
    results.forEach((r, i) => {
      if (i === 7) return;
      expect(r.toArray(), `result ${i}`).toEqual(before[i]);
      expect(r.sum().item(), `result ${i}`).toBe(sums[i]);
    });
  });

  it('posting one op result with a transfer list leaves every other result intact', async () => {
    setBackend(backend);
    const all = smallResults();
    const copies = all.map(([, t]) => Float32Array.from(t.data));
    const { port1, port2 } = new MessageChannel();
    const received: Promise<Float32Array[]> = new Promise((resolve) => {
      const got: Float32Array[] = [];
      port2.on('message', (buf: ArrayBuffer) => {
        got.push(new Float32Array(buf));
        if (got.length === all.length) resolve(got);
      });
    });
    // Transfer each result in turn; after each transfer, every result not yet sent is unchanged.
    for (let k = 0; k < all.length; k++) {
      const buf = all[k][1].data.buffer;
      port1.postMessage(buf, [buf]);
      expect(all[k][1].data.length, all[k][0]).toBe(0);
      for (let j = k + 1; j < all.length; j++) expect(all[j][1].data, `${all[j][0]} after sending ${all[k][0]}`).toEqual(copies[j]);
    }
    const got = await received;
    port1.close();
    got.forEach((g, i) => expect(g, all[i][0]).toEqual(copies[i]));
  });

  it('hand-written training with kept predictions survives transferring them one by one', () => {
    setBackend(backend);
    const model = new Sequential([new Linear(3, 6), new Tanh(), new Dropout(0.2), new Linear(6, 2)], { seed: 9 });
    const opt = new SGD(model.parameters(), { lr: 0.05 });
    const x = tensor([[1, 0, -1], [0.5, 0.5, 0.5]]);
    const kept: Tensor[] = [];
    for (let s = 0; s < 10; s++) {
      opt.zeroGrad();
      const pred = model.forward(x);
      kept.push(pred);
      crossEntropy(pred, new Int32Array([0, 1])).backward();
      opt.step();
    }
    const copies = kept.map((t) => Float32Array.from(t.data));
    for (let k = 0; k < kept.length; k++) {
      const buf = kept[k].data.buffer;
      structuredClone(buf, { transfer: [buf] });
      for (let j = k + 1; j < kept.length; j++) expect(kept[j].data, `step ${j} after transferring step ${k}`).toEqual(copies[j]);
    }
  });
});
