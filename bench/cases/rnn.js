// Recurrent cases: nn.LSTM and nn.GRU over a batch of sequences, forward (inference) and forward + backward (a training
// step's gradients), native vs pure TS, and torch.nn.LSTM/GRU (bench/peers/pytorch_rnn.py, 1 or 2 threads, the faster) with --peers.
'use strict';
const { measureCase, randomArray, backendCandidate, attachTorchPeer } = require('../lib/cases');

function sizes(quick) {
  return quick ? { batch: 8, time: 16, input: 16, hidden: 32 } : { batch: 32, time: 64, input: 64, hidden: 128 };
}

function candidate(ctx, backend, kind, train, s) {
  const m = ctx.myelin;
  const Cls = kind === 'lstm' ? m.nn.LSTM : m.nn.GRU;
  const layer = new Cls(s.input, s.hidden, { batchFirst: true, seed: 3 });
  const x = new m.Tensor(randomArray(s.batch * s.time * s.input, 5, -1, 1), [s.batch, s.time, s.input], train);
  const g = new m.Tensor(randomArray(s.batch * s.time * s.hidden, 6, -1, 1), [s.batch, s.time, s.hidden]);
  return backendCandidate(ctx, backend, train
    ? () => {
      x.grad = null;
      layer.zeroGrad();
      layer.forward(x).backward(g);
    }
    : () => m.noGrad(() => layer.forward(x)));
}

async function runRnn(ctx) {
  const s = sizes(ctx.opts.quick);
  const records = [];
  for (const kind of ['lstm', 'gru']) {
    for (const train of [false, true]) {
      const id = `${kind}-${train ? 'forward-backward' : 'forward'}`;
      const label = `${kind.toUpperCase()}(${s.input}, ${s.hidden}) ${train ? 'forward + backward' : 'forward'}, batch ${s.batch} x ${s.time} steps`;
      const cands = ['native', 'js'].map((b) => (ctx.backends[b] ? candidate(ctx, b, kind, train, s) : backendCandidate(ctx, b, null)));
      records.push(await measureCase(ctx, {
        id, group: 'rnn', label, short: label, display: { kind: 'rate', unit: 'sequences/s', work: s.batch }, baseline: 'js',
        note: 'one layer, batchFirst; backward of forward(x).backward(g) with a fixed upstream gradient',
      }, cands, { maxIters: 1000 }));
    }
  }
  if (ctx.opts.peers) {
    attachTorchPeer(ctx, records, 'pytorch_rnn.py', ['--batch', String(s.batch), '--time', String(s.time), '--input', String(s.input), '--hidden', String(s.hidden)]);
  }
  return records;
}

module.exports = { runRnn };
