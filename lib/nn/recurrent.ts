// What nn.LSTM and nn.GRU share: options and checks, PyTorch's parameter names and init, the stack of layers and
// directions (dropout between layers, batchFirst), initial states in and final states out, config and ONNX layout.
import { Tensor, zeros } from '../tensor';
import { dropout } from '../ops/dropout';
import { concat, reshape } from '../ops/shape';
import { narrow } from '../ops/view';
import { swapAxes } from '../ops/seq';
import type { RecurrentWeights } from '../ops/recurrent';
import { Rng, globalGenerator } from '../random';
import { InitSeed, checkWeightLayer, uniformFill } from './init';
import { Module } from './module';
import type { LayerConfig } from './config';
import { keyRules, type KeyRule, type ParameterShape } from './registry';
import { checkBoolean, checkNumber, checkTensor } from '../validate';

/** Options of nn.LSTM and nn.GRU (PyTorch's constructor arguments, camelCased, plus returnSequences and seed). */
export interface RecurrentOptions {
  /** Stacked recurrent layers (default 1); layer k > 0 reads layer k-1's output. */
  numLayers?: number;
  /** Learn b_ih and b_hh (default true). */
  bias?: boolean;
  /** Input and output are [batch, time, features] (default false: [time, batch, features], as PyTorch). */
  batchFirst?: boolean;
  /** Dropout probability on the output of every layer but the last, in training (default 0). */
  dropout?: number;
  /** Run a second pass from the end of the sequence; the outputs of both are concatenated (default false). */
  bidirectional?: boolean;
  /**
   * true (default): forward returns the output sequence (PyTorch's `output`). false: forward returns the last
   * layer's final hidden state [batch, directions * hidden] (a sequence classifier's features, e.g. in Sequential).
   */
  returnSequences?: boolean;
  /** Seed for the initial weights (the same seed, the same weights). */
  seed?: number;
}

export interface RecurrentConfig extends LayerConfig {
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bias: boolean;
  batchFirst: boolean;
  dropout: number;
  bidirectional: boolean;
  returnSequences: boolean;
}

/** What forwardWithState returns: the output sequence and the final states [numLayers * directions, batch, hidden]. */
export interface RecurrentResult {
  /** [time, batch, directions * hidden] ([batch, time, ...] with batchFirst). */
  output: Tensor;
  /** Final hidden state of every layer and direction (PyTorch's h_n). */
  h: Tensor;
  /** Final cell state (LSTM only; PyTorch's c_n). */
  c?: Tensor;
}

/** One layer and direction run: its output [T,B,H], final hidden [1,B,H] and (LSTM) final cell [1,B,H]. */
export interface DirectionRun {
  seq: Tensor;
  h: Tensor;
  c?: Tensor;
}

const OPTION_KEYS = ['numLayers', 'bias', 'batchFirst', 'dropout', 'bidirectional', 'returnSequences', 'seed'];

/** The suffix PyTorch gives each direction's parameters. */
export const directionSuffix = (d: number): string => (d === 1 ? '_reverse' : '');

/** Parameter names and shapes of a config, in PyTorch's state_dict order. */
export function recurrentParameters(c: RecurrentConfig, gates: number): ParameterShape[] {
  const out: ParameterShape[] = [];
  const G = gates * c.hiddenSize;
  const D = c.bidirectional ? 2 : 1;
  for (let l = 0; l < c.numLayers; l++) {
    const inSize = l === 0 ? c.inputSize : D * c.hiddenSize;
    for (let d = 0; d < D; d++) {
      const s = `_l${l}${directionSuffix(d)}`;
      out.push({ name: `weight_ih${s}`, shape: [G, inSize] }, { name: `weight_hh${s}`, shape: [G, c.hiddenSize] });
      if (c.bias) out.push({ name: `bias_ih${s}`, shape: [G] }, { name: `bias_hh${s}`, shape: [G] });
    }
  }
  return out;
}

/**
 * The base of LSTM and GRU: `gates` weight blocks per layer (4 or 3), PyTorch's names weight_ih_l0, weight_hh_l0,
 * bias_ih_l0, bias_hh_l0 (with _reverse for the backward direction) and PyTorch's init U(-1/sqrt(H), 1/sqrt(H)).
 */
export abstract class RecurrentBase extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly returnSequences: boolean;
  private readonly initSeed: InitSeed;
  private dropoutRng: Rng | null = null;
  /** weights[layer][direction] */
  protected readonly weights: RecurrentWeights[][] = [];

  protected constructor(readonly kind: 'LSTM' | 'GRU', gates: number, inputSize: number, hiddenSize: number, opts: RecurrentOptions) {
    super();
    const o = checkWeightLayer(kind, { inputSize, hiddenSize }, [gates * hiddenSize, Math.max(inputSize, hiddenSize)], opts, OPTION_KEYS);
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.numLayers = o.numLayers === undefined ? 1 : checkNumber(kind, 'numLayers', o.numLayers, { integer: true, min: 1, max: 1024 });
    this.bias = o.bias === undefined ? true : checkBoolean(kind, 'bias', o.bias);
    this.batchFirst = o.batchFirst === undefined ? false : checkBoolean(kind, 'batchFirst', o.batchFirst);
    this.dropout = o.dropout === undefined ? 0 : checkNumber(kind, 'dropout', o.dropout, { min: 0, below: 1 });
    this.bidirectional = o.bidirectional === undefined ? false : checkBoolean(kind, 'bidirectional', o.bidirectional);
    this.returnSequences = o.returnSequences === undefined ? true : checkBoolean(kind, 'returnSequences', o.returnSequences);
    this.initSeed = new InitSeed(kind, o.seed);
    for (const p of recurrentParameters(this.toConfig(), gates)) this.registerParameter(p.name, zeros(p.shape));
    const params = new Map(this.namedParameters());
    for (let l = 0; l < this.numLayers; l++) {
      const row: RecurrentWeights[] = [];
      for (let d = 0; d < this.directions; d++) {
        const s = `_l${l}${directionSuffix(d)}`;
        row.push({
          wIh: params.get(`weight_ih${s}`) as Tensor, wHh: params.get(`weight_hh${s}`) as Tensor,
          bIh: params.get(`bias_ih${s}`) ?? null, bHh: params.get(`bias_hh${s}`) ?? null,
        });
      }
      this.weights.push(row);
    }
    this.resetParameters();
  }

  /** 2 when bidirectional, else 1. */
  get directions(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Re-draws every weight and bias from U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)) (PyTorch's init), seeded. */
  resetParameters(seed?: number): void {
    const rng = this.initSeed.rng(`${this.kind}.resetParameters`, seed);
    const bound = 1 / Math.sqrt(this.hiddenSize);
    for (const [, p] of this.namedParameters()) {
      uniformFill(p.data, bound, rng);
      p._version++;
    }
  }

  override seedIfUnseeded(seed: number): void {
    if (this.initSeed.adopt(seed)) this.resetParameters();
    this.dropoutRng = new Rng((seed ^ 0x5bd1e995) >>> 0);
  }

  /** One layer in one direction over x [T,B,I] from the initial states (slices [1,B,H] or null). */
  protected abstract runDirection(x: Tensor, w: RecurrentWeights, reverse: boolean, h0: Tensor | null, c0: Tensor | null): DirectionRun;

  /** Checks the initial states the caller passed (LSTM: [h0, c0], GRU: h0); returns them. */
  protected abstract initialStates(hx: unknown, batch: number): [Tensor | null, Tensor | null];

  /** Checks one initial state: [numLayers * directions, batch, hidden]. */
  protected checkState(name: string, s: unknown, batch: number): Tensor {
    const t = checkTensor(`${this.kind}.forward`, name, s);
    const want = [this.numLayers * this.directions, batch, this.hiddenSize];
    if (t.ndim !== 3 || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(`${this.kind}.forward: ${name} has shape [${t.shape.join(',')}], expected [${want.join(',')}] (numLayers * directions, batch, hidden)`);
    }
    return t;
  }

  /**
   * Runs the stack: x is [time, batch, inputSize] ([batch, time, inputSize] with batchFirst); hx the initial states
   * (LSTM: [h0, c0], GRU: h0, each [numLayers * directions, batch, hidden]; absent: zeros). Returns the output
   * sequence and the final states, as torch.nn.LSTM/GRU do.
   */
  forwardWithState(x: Tensor, hx?: unknown): RecurrentResult {
    const where = `${this.kind}.forward`;
    checkTensor(where, 'input', x);
    if (x.ndim !== 3) {
      throw new Error(`${where}: input must be 3-D ${this.batchFirst ? '[batch, time, features]' : '[time, batch, features]'}, got [${x.shape.join(',')}]`);
    }
    if (x.shape[2] !== this.inputSize) throw new Error(`${where}: input has ${x.shape[2]} features (shape [${x.shape.join(',')}]), the layer expects inputSize ${this.inputSize}`);
    let seq = this.batchFirst ? swapAxes(x, 0, 1) : x;
    const batch = seq.shape[1];
    const [h0, c0] = this.initialStates(hx, batch);
    const hs: Tensor[] = [];
    const cs: Tensor[] = [];
    const D = this.directions;
    for (let l = 0; l < this.numLayers; l++) {
      const outs: Tensor[] = [];
      for (let d = 0; d < D; d++) {
        const k = l * D + d;
        const run = this.runDirection(seq, this.weights[l][d], d === 1, h0 ? narrow(h0, 0, k, 1) : null, c0 ? narrow(c0, 0, k, 1) : null);
        outs.push(run.seq);
        hs.push(run.h);
        if (run.c) cs.push(run.c);
      }
      seq = D === 1 ? outs[0] : concat(outs, 2);
      if (l < this.numLayers - 1 && this.dropout > 0 && this.training) seq = dropout(seq, this.dropout, true, this.dropoutRng ?? globalGenerator());
    }
    const output = this.batchFirst ? swapAxes(seq, 0, 1) : seq;
    const h = hs.length === 1 ? hs[0] : concat(hs, 0);
    return cs.length === 0 ? { output, h } : { output, h, c: cs.length === 1 ? cs[0] : concat(cs, 0) };
  }

  /** The output sequence, or with returnSequences false the last layer's final hidden state [batch, directions * hidden]. */
  override forward(x: Tensor, hx?: unknown): Tensor {
    const r = this.forwardWithState(x, hx);
    if (this.returnSequences) return r.output;
    const D = this.directions;
    const L = this.numLayers;
    const last = narrow(r.h, 0, (L - 1) * D, D); // [D, B, H]
    const B = last.shape[1];
    return reshape(D === 1 ? last : concat([narrow(last, 0, 0, 1), narrow(last, 0, 1, 1)], 2), [B, D * this.hiddenSize]);
  }

  override inputFeatures(): number | null {
    return this.inputSize;
  }

  override toConfig(): RecurrentConfig {
    return {
      type: this.kind, inputSize: this.inputSize, hiddenSize: this.hiddenSize, numLayers: this.numLayers, bias: this.bias,
      batchFirst: this.batchFirst, dropout: this.dropout, bidirectional: this.bidirectional, returnSequences: this.returnSequences,
    };
  }

  override describe(): string {
    const extra = [
      this.numLayers !== 1 ? `numLayers=${this.numLayers}` : '', this.bias ? '' : 'bias=false', this.batchFirst ? 'batchFirst' : '',
      this.dropout ? `dropout=${this.dropout}` : '', this.bidirectional ? 'bidirectional' : '', this.returnSequences ? '' : 'returnSequences=false',
    ].filter((s) => s !== '');
    return `${this.kind}(${this.inputSize}, ${this.hiddenSize}${extra.map((s) => `, ${s}`).join('')})`;
  }
}

/** The config keys LSTM and GRU check. */
export const recurrentKeys: Record<string, KeyRule> = {
  inputSize: keyRules.positiveInt, hiddenSize: keyRules.positiveInt, numLayers: keyRules.positiveInt, bias: keyRules.boolean,
  batchFirst: keyRules.boolean, dropout: keyRules.probability, bidirectional: keyRules.boolean, returnSequences: keyRules.boolean,
};

/** The options a config stands for. */
export function recurrentOptions(c: RecurrentConfig): RecurrentOptions {
  return { numLayers: c.numLayers, bias: c.bias, batchFirst: c.batchFirst, dropout: c.dropout, bidirectional: c.bidirectional, returnSequences: c.returnSequences };
}
