// Child process of serve-safety.test.ts: transfers every weight buffer while predictAsync calls are pending.
//
//   node --expose-gc test/helpers/predict-async-transfer.js <dist dir> <native|js> [rows, default 2048]
//
// Each round starts predictAsync on a 3-layer MLP, then transfers (detaches) the ArrayBuffer of
// every weight and bias, with structuredClone({ transfer }) or MessagePort.postMessage(buf, [buf]),
// forces garbage collection and fills the heap with other data. Before the fix the pool thread read
// the freed weights (SIGSEGV); now the call must resolve with the values predict() gave before the
// transfer. When the weights are left detached, the next call must reject with an Error saying so.
// Then the backend's forwardAsync itself: its input transferred right after the call (it was
// copied: correct result), its output transferred during the call (a clear rejection).
// Prints one JSON line with what each round saw; a crash shows as a signal in the parent.
'use strict';
const path = require('path');
const { MessageChannel } = require('worker_threads');

const lib = require(process.argv[2]);
const { getBackend } = require(path.join(process.argv[2], 'backend', 'select.js'));
const backendName = process.argv[3];
const rows = Number(process.argv[4] || 2048);
lib.setBackend(backendName);
const { nn } = lib;

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Number.MAX_VALUE;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    worst = Number.isNaN(d) ? Number.MAX_VALUE : Math.max(worst, d);
  }
  return worst;
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  const { port1, port2 } = new MessageChannel();
  port2.on('message', () => {});
  const rounds = [];
  for (let round = 0; round < 6; round++) {
    const model = new nn.Sequential(
      new nn.Linear(256, 512, { seed: round + 1 }), new nn.ReLU(),
      new nn.Linear(512, 256, { seed: round + 101 }), new nn.Tanh(),
      new nn.Linear(256, 16, { seed: round + 201 }),
    );
    const x = lib.rand([rows, 256], { seed: round + 7 });
    const want = model.predict(x).data.slice();
    const how = round % 2 === 0 ? 'structuredClone' : 'postMessage';
    const replace = round < 4; // rounds 4 and 5 leave the weights detached
    // One batch (the native call is running during the transfer), or two (the second call starts
    // after it).
    const pending = model.predictAsync(x, { batchSize: round % 3 === 1 ? rows / 2 : rows });
    for (const w of model.parameters()) {
      const copy = replace ? w.data.slice() : null;
      const buffer = w.data.buffer;
      if (how === 'structuredClone') structuredClone(buffer, { transfer: [buffer] });
      else port1.postMessage(buffer, [buffer]);
      if (copy !== null) w.data = copy;
    }
    global.gc();
    const junk = [];
    for (let i = 0; i < 64; i++) junk.push(new Float32Array(1 << 16).fill(1e30));
    global.gc();
    const entry = { round, how, replace };
    try {
      entry.maxDiff = maxAbsDiff((await pending).data, want);
    } catch (e) {
      entry.pendingError = String(e && e.message);
    }
    try {
      const again = await model.predictAsync(x, { batchSize: rows / 2 });
      entry.nextDiff = maxAbsDiff(again.data, want);
    } catch (e) {
      entry.nextError = String(e && e.message);
    }
    junk.length = 0;
    rounds.push(entry);
  }
  // The backend call itself: X transferred right after forwardAsync returned (it was copied), and
  // out transferred while the call runs (the result has nowhere to go: the promise rejects).
  const backend = getBackend();
  const M = rows;
  const layers = [
    { N: 512, K: 256, W: lib.randn([512, 256], { seed: 1 }).data, bias: lib.randn([512], { seed: 2 }).data, act: 'relu', alpha: 0 },
    { N: 64, K: 512, W: lib.randn([64, 512], { seed: 3 }).data, bias: null, act: 'tanh', alpha: 0 },
  ];
  const X = lib.randn([M, 256], { seed: 4 }).data.slice();
  const want = new Float32Array(M * 64);
  backend.forwardDense(M, layers, X, want, true);
  const out = new Float32Array(M * 64);
  const pendingX = backend.forwardAsync(M, backend.freezePlan(layers), X, out, true);
  structuredClone(X.buffer, { transfer: [X.buffer] });
  const outLost = new Float32Array(M * 64);
  const pendingOut = backend.forwardAsync(M, layers, lib.randn([M, 256], { seed: 4 }).data.slice(), outLost, true);
  port1.postMessage(outLost.buffer, [outLost.buffer]);
  global.gc();
  const [x, o] = await Promise.all([
    pendingX.then(() => ({ diff: maxAbsDiff(out, want) }), (e) => ({ error: String(e && e.message) })),
    pendingOut.then(() => 'resolved', (e) => String(e && e.message)),
  ]);
  const binding = { xDetachedDiff: x.diff, xDetachedError: x.error, outDetached: o };
  port1.close();
  process.stdout.write(`${JSON.stringify({ backend: lib.info().backend, rounds, binding })}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ fatal: String(e && e.stack) })}\n`);
  process.exitCode = 1;
});
