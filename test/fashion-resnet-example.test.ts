// examples/fashion-resnet.js on small data (the full run is the benchmark's cnn-accuracy group): its network, its
// training settings (augmentation, Adam + 1cycle) on a separable synthetic set, and the script on a Fashion-MNIST
// subset with the output the benchmark parses.
import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { ensureDist, ROOT } from './helpers/dist';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
let myelin: any;
let example: any;
beforeAll(() => {
  ensureDist();
  myelin = require(ROOT);
  example = require(path.join(ROOT, 'examples', 'fashion-resnet.js'));
});

/** 28x28 images of a horizontal (0), vertical (1) or diagonal (2) stroke at varying places, standardised-ish. */
function strokes(n: number, offset: number): { x: any; y: Int32Array } {
  const x = new Float32Array(n * 784).fill(-0.5);
  const y = Int32Array.from({ length: n }, (_, i) => (i + offset) % 3);
  for (let i = 0; i < n; i++) {
    const at = 4 + (((i + offset) * 5) % 20);
    for (let j = 4; j < 24; j++) {
      const [r, c] = y[i] === 0 ? [at, j] : y[i] === 1 ? [j, at] : [j, j];
      x[i * 784 + r * 28 + c] = 2;
    }
  }
  return { x: new myelin.Tensor(x, [n, 1, 28, 28]), y };
}

describe('examples/fashion-resnet.js', () => {
  it("the network: PyTorch's state_dict names and shapes (bench/peers/pytorch_resnet.py builds the same), 73,082 parameters", () => {
    const m = example.fashionResnet(0);
    const sd = m.stateDict();
    expect(m.parameters().reduce((s: number, p: any) => s + p.size, 0)).toBe(73082);
    expect(sd['0.weight'].shape).toEqual([16, 1, 3, 3]);
    expect(sd['3.body.0.weight'].shape).toEqual([32, 16, 3, 3]);
    expect(sd['3.shortcut.0.weight'].shape).toEqual([32, 16, 1, 1]);
    expect(sd['4.body.4.num_batches_tracked'].shape).toEqual([]);
    expect(sd['7.weight'].shape).toEqual([10, 64]);
    expect(Object.keys(sd)).toHaveLength(1 + 5 + 2 * (3 + 3 * 5) + 2); // stem conv + BN, two blocks of 3 convs + 3 BNs, linear
    expect(m.predict(strokes(2, 0).x).shape).toEqual([2, 10]);
  });

  it("trains with the example's settings (augmentation, Adam + 1cycle): the loss falls on synthetic strokes", async () => {
    const m = example.fashionResnet(1);
    const history = await example.train(m, strokes(256, 0), { epochs: 6, seed: 2, verbose: 0 });
    expect(history.lr[0]).toBeLessThan(example.SETTINGS.maxLr); // 1cycle: still warming up after the first epoch
    expect(history.loss[history.loss.length - 1]).toBeLessThan(0.8 * history.loss[0]);
    expect(history.accuracy[history.accuracy.length - 1]).toBeGreaterThan(0.6);
  }, 300_000);

  const haveFashion = fs.existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || !!process.env.MYELIN_DATA;
  it.runIf(haveFashion && process.env.MYELIN_SKIP_FASHION !== '1')('runs on a Fashion-MNIST subset and prints what the benchmark parses', () => {
    const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'myelin-resnet-'));
    try {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'examples', 'fashion-resnet.js'), '--limit', '2000', '--epochs', '1', '--save', path.join(dir, 'm')], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
      expect(r.status, r.stderr).toBe(0);
      const { parseExample } = require(path.join(ROOT, 'bench', 'cases', 'cnn-accuracy.js'));
      const figures = parseExample(r.stdout);
      expect(figures.accuracy, r.stdout).toBeGreaterThan(0.25); // 2,000 images, one epoch (16 steps): well above chance (0.1)
      expect(figures.seconds).toBeGreaterThan(0);
      const loaded = myelin.load(path.join(dir, 'm'));
      expect(loaded.toConfig()).toEqual(example.fashionResnet(0).toConfig());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
