// Conv/pool layers agree with PyTorch (outputs and gradients) on the random configurations of test/fixtures/conv/torch.json, on each backend.
import * as fs from 'fs';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as nn from '../lib/nn';
import { Tensor } from '../lib/tensor';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';

interface Case {
  kind: string;
  options: Record<string, unknown>;
  xShape: number[]; x: number[]; yShape: number[]; y: number[]; upstream: number[]; dx: number[];
  params: Record<string, { shape: number[]; data: number[] }>;
  grads: Record<string, number[]>;
}
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'conv', 'torch.json'), 'utf8')) as { cases: Case[] };

function build(c: Case): nn.Module {
  const o = { ...c.options } as Record<string, never>;
  switch (c.kind) {
    case 'Conv2d': {
      const { inChannels, outChannels, kernelSize, ...rest } = o;
      return new nn.Conv2d(inChannels, outChannels, kernelSize, rest);
    }
    case 'Conv1d': {
      const { inChannels, outChannels, kernelSize, ...rest } = o;
      return new nn.Conv1d(inChannels, outChannels, kernelSize, rest);
    }
    case 'MaxPool2d': case 'AvgPool2d': case 'MaxPool1d': case 'AvgPool1d': {
      const { kernelSize, ...rest } = o;
      const cls = { MaxPool2d: nn.MaxPool2d, AvgPool2d: nn.AvgPool2d, MaxPool1d: nn.MaxPool1d, AvgPool1d: nn.AvgPool1d }[c.kind];
      return new cls(kernelSize, rest);
    }
    case 'AdaptiveAvgPool2d':
      return new nn.AdaptiveAvgPool2d(o.outputSize);
    default:
      throw new Error(`unknown kind ${c.kind}`);
  }
}

function close(got: Float32Array, want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / (1e-4 + 1e-4 * Math.abs(want[i]));
    if (!(err <= worst)) { worst = err; at = i; }
  }
  expect(worst, `${what}: worst at ${at}: got ${got[at]}, torch ${want[at]}`).toBeLessThanOrEqual(1);
}

describe.each(backendsUnderTest())('conv/pool layers vs PyTorch on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));
  it.each(fixture.cases.map((c, i) => [i, c.kind, JSON.stringify(c.options), c] as const))('case %i: %s %s', (_i, _k, _o, c) => {
    const layer = build(c);
    const named = new Map(layer.namedParameters());
    expect([...named.keys()].sort()).toEqual(Object.keys(c.params).sort());
    for (const [name, p] of Object.entries(c.params)) {
      const t = named.get(name) as Tensor;
      expect(t.shape).toEqual(p.shape);
      t.data.set(p.data);
    }
    const x = new Tensor(Float32Array.from(c.x), c.xShape, true);
    const y = layer.forward(x);
    expect(y.shape).toEqual(c.yShape);
    close(y.data, c.y, 'output');
    y.backward(new Tensor(Float32Array.from(c.upstream), c.yShape));
    close((x.grad as Tensor).data, c.dx, 'input gradient');
    for (const name of Object.keys(c.grads)) close(((named.get(name) as Tensor).grad as Tensor).data, c.grads[name], `${name} gradient`);
  });
});
