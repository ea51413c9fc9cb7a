// nn.MultiheadAttention and nn.DecoderBlock: agreement with PyTorch (outputs, attention weights, gradients; fixtures
// from scripts/gen-seq-fixtures.py), masks, finite-difference gradients, config, and errors.
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../lib/tensor';
import * as nn from '../lib/nn';
import { freshRng, gradcheck, randomTensor } from './helpers/gradcheck';
import { type Arr, loadFixture, torchClose } from './helpers/torch-fixtures';

const FIXTURES = path.join(__dirname, 'fixtures', 'seq');
const { seed, rng } = freshRng();

const load = (name: string): Record<string, unknown> => loadFixture(FIXTURES, name);
const t = (a: Arr, requiresGrad = false): Tensor => new Tensor(Float32Array.from(a.data), a.shape, requiresGrad);
const expectClose = torchClose({ atol: 2e-5, rtol: 1e-4 });

function loadParams(m: nn.Module, params: Record<string, Arr>): void {
  m.loadStateDict(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, t(v)])));
}

describe('MultiheadAttention agrees with torch.nn.MultiheadAttention', () => {
  for (const name of ['torch_mha_batch_first', 'torch_mha_seq_first_padding', 'torch_mha_causal_padding_mask']) {
    it(`${name}: output, head-averaged weights and every gradient`, () => {
      const fx = load(name) as {
        embedDim: number; numHeads: number; batchFirst: boolean; causal: boolean; params: Record<string, Arr>;
        query: Arr; key: Arr; value: Arr; keyPaddingMask: number[] | null; extraMask: boolean;
        output: Arr; weights: Arr; outputWeights: number[]; grads: Record<string, number[]>;
      };
      const mha = new nn.MultiheadAttention(fx.embedDim, fx.numHeads, { batchFirst: fx.batchFirst });
      expect(mha.namedParameters().map(([n]) => n)).toEqual(Object.keys(fx.params));
      loadParams(mha, fx.params);
      const [q, k, v] = [t(fx.query, true), t(fx.key, true), t(fx.value, true)];
      const B = fx.batchFirst ? fx.query.shape[0] : fx.query.shape[1];
      const T = fx.batchFirst ? fx.query.shape[1] : fx.query.shape[0];
      const S = fx.batchFirst ? fx.key.shape[1] : fx.key.shape[0];
      let attnMask: Tensor | null = null;
      if (fx.extraMask) {
        const m = new Float32Array(T * S);
        m[1 * S + 0] = 1;
        m[3 * S + 2] = 1;
        attnMask = new Tensor(m, [T, S]);
      }
      const keyPaddingMask = fx.keyPaddingMask === null ? null : new Tensor(Float32Array.from(fx.keyPaddingMask), [B, S]);
      const { output, weights } = mha.attend(q, k, v, { keyPaddingMask, attnMask, isCausal: fx.causal, needWeights: true });
      expect(output.shape).toEqual(fx.output.shape);
      expectClose(output.data, fx.output.data, 'output');
      expect(weights!.shape).toEqual(fx.weights.shape);
      expectClose(weights!.data, fx.weights.data, 'weights');
      output.backward(new Tensor(Float32Array.from(fx.outputWeights), output.shape));
      expectClose(q.grad!.data, fx.grads.query, 'd query');
      expectClose(k.grad!.data, fx.grads.key, 'd key');
      expectClose(v.grad!.data, fx.grads.value, 'd value');
      for (const [n, p] of mha.namedParameters()) expectClose(p.grad!.data, fx.grads[n], `d ${n}`);
    });
  }
});

describe('DecoderBlock agrees with a PyTorch pre-norm block (LayerNorm, causal MHA, GELU MLP)', () => {
  it('output and gradients of input and parameters', () => {
    const fx = load('torch_decoder_block') as { embedDim: number; numHeads: number; mlpDim: number; params: Record<string, Arr>; input: Arr; output: Arr; outputWeights: number[]; grads: Record<string, number[]> };
    const block = new nn.DecoderBlock(fx.embedDim, fx.numHeads, { mlpDim: fx.mlpDim });
    expect(block.namedParameters().map(([n]) => n).sort()).toEqual(Object.keys(fx.params).sort());
    loadParams(block, fx.params);
    const x = t(fx.input, true);
    const y = block.forward(x);
    expectClose(y.data, fx.output.data, 'output');
    y.backward(new Tensor(Float32Array.from(fx.outputWeights), y.shape));
    expectClose(x.grad!.data, fx.grads.input, 'd input');
    for (const [n, p] of block.namedParameters()) expectClose(p.grad!.data, fx.grads[n], `d ${n}`);
  });
});

describe('MultiheadAttention behaviour', () => {
  it('gradients by finite differences through masks (causal + key padding)', () => {
    const mha = new nn.MultiheadAttention(6, 3, { batchFirst: true, seed: 4 });
    const x = randomTensor(rng, [2, 4, 6]);
    const pad = tensor([[0, 0, 0, 1], [0, 0, 0, 0]]);
    gradcheck(([a]) => mha.attend(a, a, a, { isCausal: true, keyPaddingMask: pad }).output, [x], { label: `mha (seed ${seed})` });
    gradcheck(([w]) => { void w; return mha.attend(x.detach(), x.detach(), x.detach(), { isCausal: true }).output; }, [mha.inProjWeight], { label: `mha in_proj (seed ${seed})` });
  });

  it('a causal layer never lets a position see the future; masked keys get zero weight', () => {
    const mha = new nn.MultiheadAttention(4, 2, { batchFirst: true, causal: true, seed: 1 });
    const x = randomTensor(rng, [1, 5, 4]);
    const y = mha.forward(x);
    // Changing the last position changes only the last output row.
    const x2 = x.clone();
    for (let k = 0; k < 4; k++) x2.data[4 * 4 + k] += 1;
    const y2 = mha.forward(x2);
    expect(Array.from(y2.data.subarray(0, 16))).toEqual(Array.from(y.data.subarray(0, 16)));
    expect(Array.from(y2.data.subarray(16))).not.toEqual(Array.from(y.data.subarray(16)));
    const { weights } = mha.attend(x, x, x, { needWeights: true, keyPaddingMask: tensor([[0, 1, 0, 0, 0]]), averageWeights: false });
    expect(weights!.shape).toEqual([1, 2, 5, 5]);
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < 5; i++) {
        let s = 0;
        for (let j = 0; j < 5; j++) {
          const w = weights!.data[(h * 5 + i) * 5 + j];
          if (j > i || j === 1) expect(w).toBe(0);
          s += w;
        }
        expect(s).toBeCloseTo(1, 5);
      }
    }
  });

  it('dropout on the weights only in training mode; config round trip; errors', () => {
    const mha = new nn.MultiheadAttention(4, 2, { batchFirst: true, dropout: 0.5, seed: 3 });
    const x = randomTensor(rng, [2, 3, 4]);
    mha.eval();
    const a = mha.forward(x);
    expect(Array.from(mha.forward(x).data)).toEqual(Array.from(a.data));
    mha.train();
    expect(Array.from(mha.forward(x).data)).not.toEqual(Array.from(a.data));
    const back = nn.fromConfig(mha.toConfig());
    expect(back.toConfig()).toEqual(mha.toConfig());
    expect(() => new nn.MultiheadAttention(6, 4)).toThrow(/MultiheadAttention: embedDim 6 must be divisible by numHeads 4/);
    expect(() => mha.forward(randomTensor(rng, [2, 3, 5]))).toThrow(/query of shape \[2,3,5\] must be \[batch, length, 4\]/);
    expect(() => mha.attend(x, x, x, { keyPaddingMask: tensor([[0, 1]]) })).toThrow(/keyPaddingMask of shape \[1,2\] must be \[batch 2, source length 3\]/);
    expect(() => mha.attend(x, randomTensor(rng, [2, 4, 4]), randomTensor(rng, [2, 4, 4]), { isCausal: true })).toThrow(/isCausal needs query and key of the same length, got 3 and 4/);
  });

  it('DecoderBlocks stack in a Sequential after an Embedding and survive fromConfig', () => {
    const model = new nn.Sequential([
      new nn.Embedding(11, 8), new nn.LearnedPositionalEncoding(6, 8), new nn.DecoderBlock(8, 2), new nn.DecoderBlock(8, 2),
      new nn.LayerNorm(8), new nn.Linear(8, 11),
    ], { seed: 2 });
    const y = model.forward(tensor([[1, 2, 3, 4], [5, 6, 7, 0]]));
    expect(y.shape).toEqual([2, 4, 11]);
    const copy = nn.fromConfig(model.toConfig());
    copy.loadStateDict(model.stateDict());
    expect(Array.from(copy.forward(tensor([[1, 2, 3, 4], [5, 6, 7, 0]])).data)).toEqual(Array.from(y.data));
  });
});
