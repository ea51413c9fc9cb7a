// fit() with checkpointDir / resumeFrom: an interrupted-and-resumed run equals an uninterrupted one.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randn } from '../lib/tensor';
import { Sequential, Linear, ReLU, Tanh } from '../lib/nn';
import { fit } from '../lib/train';
import { loadCheckpoint } from '../lib/io/model-file';

const seed = ((Date.now() ^ (process.pid << 6)) >>> 0) % 100000;
let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-ckpt-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const net = (s: number): Sequential => new Sequential(new Linear(10, 16, { seed: s }), new ReLU(), new Linear(16, 12, { seed: s + 1 }), new Tanh(), new Linear(12, 3, { seed: s + 2 }));
const x = randn([203, 10], { seed: 17 });
const y = Int32Array.from({ length: 203 }, (_, i) => (i * 7) % 3);

describe('checkpointDir / resumeFrom', () => {
  for (const optimizer of ['adam', 'sgd', 'rmsprop'] as const) {
    it(`4 epochs straight == 2 epochs, then resume for 2 more (${optimizer}): identical weights and history`, async () => {
      const opts = { batchSize: 32, seed, verbose: 0 as const, optimizer, lr: 0.01, validationSplit: 0.2 };
      const straight = net(1);
      const hStraight = await fit(straight, { x, y }, { ...opts, epochs: 4 });

      const d = path.join(dir, `ck-${optimizer}`);
      const first = net(1);
      await fit(first, { x, y }, { ...opts, epochs: 2, checkpointDir: d });
      const ck = loadCheckpoint(d);
      expect(ck.epoch).toBe(2);
      expect(ck.trainingState.seed).toBe(seed);

      const resumed = net(999); // different initial weights: the checkpoint must overwrite them
      const { seed: _omit, ...withoutSeed } = opts;
      const hResumed = await fit(resumed, { x, y }, { ...withoutSeed, epochs: 4, resumeFrom: d, checkpointDir: d });
      const msg = `seed ${seed}`;
      expect(hResumed.epoch, msg).toEqual([0, 1, 2, 3]);
      expect(hResumed.loss, msg).toEqual(hStraight.loss);
      expect(hResumed.valLoss, msg).toEqual(hStraight.valLoss);
      for (const [name, p] of straight.namedParameters()) {
        expect(Array.from(resumed.stateDict()[name].data), `${msg}: ${name}`).toEqual(Array.from(p.data));
      }
      expect(loadCheckpoint(d).epoch).toBe(4);
    });
  }

  it('refuses to resume into a different architecture or from a plain model', async () => {
    const d = path.join(dir, 'arch');
    await fit(net(1), { x, y }, { epochs: 1, batchSize: 64, verbose: 0, checkpointDir: d });
    const other = new Sequential(new Linear(10, 3));
    await expect(fit(other, { x, y }, { epochs: 2, verbose: 0, resumeFrom: d })).rejects.toThrow(/resumeFrom '.*arch': the checkpoint's architecture/);
    await expect(fit(net(1), { x, y }, { epochs: 2, verbose: 0, resumeFrom: path.join(dir, 'missing') })).rejects.toThrow(/does not exist/);
    await expect(fit(net(1), { x, y }, { epochs: 2, verbose: 0, optimizer: 'sgd', resumeFrom: d })).rejects.toThrow(/resumeFrom '.*arch': .*state dict is for 'Adam', not 'SGD'/);
  });
});
