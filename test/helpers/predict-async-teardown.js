// Child process of serve-safety.test.ts: ends worker_threads that have predictAsync calls pending.
//
//   node test/helpers/predict-async-teardown.js <dist dir> [case ...]
//
// Each case starts a worker that runs predictAsync on an MLP and is then ended, by the parent with
// worker.terminate() or by itself with process.exit(3), at one moment:
//   queued    right after predictAsync() returned (the native job was just queued)
//   running   30 ms later, while the native forward pass runs (it takes hundreds of ms)
//   finished  after the native pass has finished but before its completion reached JavaScript
//             (the worker blocks its own event loop for 1.5 s after the call)
//   settled   after the promise resolved
//   several   with three calls pending (one per moment above but the last)
// Before the fix the completion callback threw a C++ exception while the worker's environment
// was being torn down, and the whole process aborted. Afterwards this process runs predictAsync
// itself (it must still work) and prints one JSON line: every case's worker exit code and the
// main thread's result.
'use strict';
const { Worker } = require('worker_threads');

const dist = process.argv[2];
const MOMENTS = ['queued', 'running', 'finished', 'settled', 'several'];
const HOWS = ['terminate', 'exit'];
const only = process.argv.slice(3);

const WORKER = `
const { parentPort, workerData } = require('worker_threads');
const lib = require(workerData.dist);
const { nn } = lib;
const { moment, how } = workerData;
const model = new nn.Sequential(new nn.Linear(512, 1024, { seed: 1 }), new nn.ReLU(),
  new nn.Linear(1024, 1024, { seed: 2 }), new nn.ReLU(), new nn.Linear(1024, 10, { seed: 3 }));
const x = lib.rand([2048, 512], { seed: 4 });
const spin = (ms) => { const end = Date.now() + ms; while (Date.now() < end) {} };
// Ends this worker now: exit by itself, or ask the parent to terminate it and keep the thread busy.
function end() {
  if (how === 'exit') process.exit(3);
  parentPort.postMessage('terminate me');
  spin(60000);
}
const call = () => model.predictAsync(x, { batchSize: 2048 });
if (moment === 'queued') { call(); end(); }
else if (moment === 'running') { call(); setTimeout(end, 30); }
else if (moment === 'finished') { call(); spin(1500); end(); }
else if (moment === 'settled') { call().then(end); }
else { call(); call(); setTimeout(() => { call(); spin(1500); end(); }, 30); }
`;

function runCase(moment, how) {
  return new Promise((resolve) => {
    const started = Date.now();
    const w = new Worker(WORKER, { eval: true, workerData: { dist, moment, how } });
    let error = null;
    w.on('message', (m) => { if (m === 'terminate me') w.terminate(); });
    w.on('error', (e) => { error = String(e && e.message); });
    w.on('exit', (code) => resolve({ moment, how, code, error, ms: Date.now() - started }));
  });
}

async function main() {
  const cases = [];
  for (const moment of MOMENTS) {
    for (const how of HOWS) {
      if (only.length === 0 || only.includes(`${moment}/${how}`)) cases.push(await runCase(moment, how));
    }
  }
  // The process survived; the library still works on this thread.
  const lib = require(dist);
  const model = new lib.nn.Sequential(new lib.nn.Linear(8, 4, { seed: 5 }), new lib.nn.Softmax());
  const x = lib.rand([3, 8], { seed: 6 });
  const got = (await model.predictAsync(x)).data;
  const want = model.predict(x).data;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  process.stdout.write(`${JSON.stringify({ cases, mainThreadDiff: worst, backend: lib.info().backend })}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ fatal: String(e && e.stack) })}\n`);
  process.exitCode = 1;
});
