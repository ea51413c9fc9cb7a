// Time series: an LSTM learns next-step prediction of a sine/sawtooth mix, starting from the same weights as PyTorch's
// run (test/fixtures/recurrent/timeseries.py) with the same data, batches and optimiser; prints both loss curves and
// their largest relative difference.
//   node examples/timeseries-lstm.js [--steps N]   (N <= 150, the steps PyTorch ran)
'use strict';
const fs = require('fs');
const path = require('path');
const util = require('node:util');
const { positiveInt } = require('./lib/args');
const myelin = require('..');
const { nn, optim, data } = myelin;

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'test', 'fixtures', 'recurrent', 'timeseries.json'), 'utf8'));
let steps;
try {
  const { values } = util.parseArgs({ args: process.argv.slice(2), options: { steps: { type: 'string' } } });
  steps = Math.min(positiveInt('steps', values.steps) ?? fixture.steps, fixture.steps);
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
const { window, hidden, batch, lr, length } = fixture;

// sin(2 pi t / 50) + 0.5 * sawtooth(t / 23): the series the PyTorch script builds
const series = Float32Array.from({ length }, (_, t) => Math.sin((2 * Math.PI * t) / 50) + (t / 23 - Math.floor(t / 23 + 0.5)));
const { inputs, targets } = data.timeSeriesWindows(series, window); // [n, window], [n, 1]
const n = inputs.shape[0];
const x = inputs.reshape(n, window, 1);

// LSTM(1, hidden) -> its final hidden state -> Linear(hidden, 1); weights from PyTorch's state_dict
const model = new nn.Sequential([new nn.LSTM(1, hidden, { batchFirst: true, returnSequences: false }), new nn.Linear(hidden, 1)]);
const names = { lstm: '0', head: '1' };
model.loadStateDict(Object.fromEntries(Object.entries(fixture.init).map(([k, v]) => {
  const [owner, ...rest] = k.split('.');
  return [`${names[owner]}.${rest.join('.')}`, Float32Array.from(v)];
})));

const opt = new optim.Adam(model.parameters(), { lr });
const rows = new Int32Array(batch);
const losses = [];
const started = process.hrtime.bigint();
for (let step = 0; step < steps; step++) {
  for (let j = 0; j < batch; j++) rows[j] = (step * batch + j) % n;
  const xb = myelin.ops.indexRows(x, rows);
  const yb = myelin.ops.indexRows(targets, rows);
  const loss = nn.mseLoss(model.forward(xb), yb);
  opt.zeroGrad();
  loss.backward();
  opt.step();
  losses.push(loss.item());
}
const ms = Number(process.hrtime.bigint() - started) / 1e6;

let worst = 0;
let worstStep = 0;
for (let i = 0; i < steps; i++) {
  const rel = Math.abs(losses[i] - fixture.losses[i]) / fixture.losses[i];
  if (rel > worst) [worst, worstStep] = [rel, i];
}
for (let i = 0; i < steps; i += Math.max(1, Math.floor(steps / 6))) {
  console.log(`step ${String(i + 1).padStart(3)}: loss myelin ${losses[i].toFixed(5)}  pytorch ${fixture.losses[i].toFixed(5)}`);
}
console.log(`step ${String(steps).padStart(3)}: loss myelin ${losses[steps - 1].toFixed(5)}  pytorch ${fixture.losses[steps - 1].toFixed(5)}`);
console.log(`largest relative difference over ${steps} steps: ${(100 * worst).toFixed(3)}% (step ${worstStep + 1})`);
console.log(`training: ${(ms / steps).toFixed(2)} ms per step (batch ${batch}, window ${window}, hidden ${hidden}; backend ${myelin.info().backend})`);
