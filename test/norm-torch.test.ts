// Agreement with PyTorch (test/fixtures/norm/torch.json, written by generate.py): BatchNorm1d/2d over training steps (outputs, gradients, running statistics) and eval, GroupNorm, nearest Upsample.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { BatchNorm1d, BatchNorm2d, GroupNorm, Upsample } from '../lib/nn';
import { mul, sum } from '../lib/ops';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';
import { maxViolation } from './helpers/onnx';

interface Step { x: number[]; y: number[]; upstream: number[]; dx: number[]; dweight?: number[]; dbias?: number[]; runningMean?: number[]; runningVar?: number[]; numBatchesTracked?: number }
interface BnCase {
  kind: 'BatchNorm1d' | 'BatchNorm2d'; shape: number[]; numFeatures: number; eps: number; momentum: number | null; affine: boolean; trackRunningStats: boolean;
  weight?: number[]; bias?: number[]; steps: Step[]; eval: Step;
}
interface GnCase { shape: number[]; numGroups: number; numChannels: number; eps: number; affine: boolean; x: number[]; y: number[]; upstream: number[]; dx: number[]; weight?: number[]; bias?: number[]; dweight?: number[]; dbias?: number[] }
interface UpCase { shape: number[]; outShape: number[]; size: number[] | null; scaleFactor: number[] | null; x: number[]; y: number[]; upstream: number[]; dx: number[] }
const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'norm', 'torch.json'), 'utf8')) as { batchNorm: BnCase[]; groupNorm: GnCase[]; upsample: UpCase[] };

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  const v = maxViolation(a, b, rtol, atol);
  expect(v.excess, `${what}: at ${v.at}: ${v.a} vs torch ${v.b}`).toBeLessThanOrEqual(0);
}

/** Runs forward on x, backward of sum(y * upstream); returns y and x's gradient. */
function step(layer: { forward(x: Tensor): Tensor }, s: Step | GnCase | UpCase, shape: number[]): { y: Tensor; dx: Float32Array } {
  const x = new Tensor(Float32Array.from(s.x), shape, true);
  const y = layer.forward(x);
  sum(mul(y, new Tensor(Float32Array.from(s.upstream), y.shape))).backward();
  return { y, dx: (x.grad as Tensor).data };
}

describe.each(backendsUnderTest())('agreement with PyTorch (%s backend)', (backend) => {
  it(`BatchNorm1d/2d: ${FIXTURE.batchNorm.length} random configurations, 3 training steps then eval`, () => {
    setBackend(backend);
    for (const c of FIXTURE.batchNorm) {
      const what = `${c.kind} ${JSON.stringify(c.shape)} momentum=${c.momentum} affine=${c.affine} track=${c.trackRunningStats}`;
      const Cls = c.kind === 'BatchNorm1d' ? BatchNorm1d : BatchNorm2d;
      const bn = new Cls(c.numFeatures, { eps: c.eps, momentum: c.momentum, affine: c.affine, trackRunningStats: c.trackRunningStats });
      if (c.affine) {
        bn.weight!.data.set(c.weight!);
        bn.bias!.data.set(c.bias!);
      }
      c.steps.forEach((s, i) => {
        bn.zeroGrad({ setToNull: true });
        const { y, dx } = step(bn, s, c.shape);
        expectClose(y.data, s.y, 1e-4, 1e-5, `${what} step ${i} y`);
        expectClose(dx, s.dx, 1e-3, 1e-4, `${what} step ${i} dx`);
        if (c.affine) {
          expectClose(bn.weight!.grad!.data, s.dweight!, 1e-4, 1e-4, `${what} step ${i} dweight`);
          expectClose(bn.bias!.grad!.data, s.dbias!, 1e-4, 1e-4, `${what} step ${i} dbias`);
        }
        if (c.trackRunningStats) {
          expectClose(bn.runningMean!.data, s.runningMean!, 1e-5, 1e-6, `${what} step ${i} running_mean`);
          expectClose(bn.runningVar!.data, s.runningVar!, 1e-5, 1e-6, `${what} step ${i} running_var`);
          expect(bn.numBatchesTracked!.data[0]).toBe(s.numBatchesTracked);
        } else {
          expect(bn.runningMean).toBeNull();
        }
      });
      bn.eval();
      bn.zeroGrad({ setToNull: true });
      const { y, dx } = step(bn, c.eval, c.shape);
      expectClose(y.data, c.eval.y, 1e-4, 1e-5, `${what} eval y`);
      expectClose(dx, c.eval.dx, 1e-3, 1e-4, `${what} eval dx`);
    }
  });

  it(`GroupNorm: ${FIXTURE.groupNorm.length} random configurations`, () => {
    setBackend(backend);
    for (const c of FIXTURE.groupNorm) {
      const what = `GroupNorm(${c.numGroups}, ${c.numChannels}) ${JSON.stringify(c.shape)}`;
      const gn = new GroupNorm(c.numGroups, c.numChannels, { eps: c.eps, affine: c.affine });
      if (c.affine) {
        gn.weight!.data.set(c.weight!);
        gn.bias!.data.set(c.bias!);
      }
      const { y, dx } = step(gn, c, c.shape);
      expectClose(y.data, c.y, 1e-4, 1e-5, `${what} y`);
      expectClose(dx, c.dx, 1e-3, 1e-4, `${what} dx`);
      if (c.affine) {
        expectClose(gn.weight!.grad!.data, c.dweight!, 1e-4, 1e-4, `${what} dweight`);
        expectClose(gn.bias!.grad!.data, c.dbias!, 1e-4, 1e-4, `${what} dbias`);
      }
    }
  });

  it(`Upsample (nearest): ${FIXTURE.upsample.length} scale factors and sizes`, () => {
    setBackend(backend);
    for (const c of FIXTURE.upsample) {
      const up = new Upsample(c.size !== null ? { size: c.size } : { scaleFactor: c.scaleFactor! });
      const { y, dx } = step(up, c, c.shape);
      expect(y.shape, `${up.describe()} on ${JSON.stringify(c.shape)}`).toEqual(c.outShape);
      expect(Array.from(y.data)).toEqual(c.y.map(Math.fround));
      expectClose(dx, c.dx, 1e-6, 1e-6, `${up.describe()} dx`);
    }
  });
});
