#!/usr/bin/env node
// Low-precision inference measured in process CPU time (steadier than wall time on a loaded machine): the
// 784-256-128-10 MLP at batch 1024 (or with --cnn the example CNN, conv 32 - pool - conv 64 - pool - 128 - 10,
// at batch 256; --batch sets it), float32 vs quantize() int8 (dynamic, calibrated) and bf16, and
// onnxruntime-node on the QDQ exports; one thread each (run with MYELIN_NUM_THREADS=1), interleaved rounds,
// medians of CPU milliseconds per call.
//
//   MYELIN_NUM_THREADS=1 node bench/lowp-cputime.js [--cnn] [--batch N] [--rounds 15] [--calls 5]
//
// On a CPU with AMX the int8 and bf16 models run on the tiles (the first line names the paths and info().amx);
// run it again with MYELIN_SIMD=avx512 for the AVX512-VNNI / AVX512-BF16 paths on the same machine.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const m = require('..');

async function main() {
  const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 15;
  const calls = Number(process.argv[process.argv.indexOf('--calls') + 1]) || 5;
  const cnn = process.argv.includes('--cnn');
  const batch = process.argv.includes('--batch') ? Number(process.argv[process.argv.indexOf('--batch') + 1]) : cnn ? 256 : 1024;
  if (!(Number.isSafeInteger(batch) && batch >= 1)) throw new Error(`--batch must be a positive integer, got ${process.argv[process.argv.indexOf('--batch') + 1]}`);
  m.setBackend('native');
  const { nn } = m;
  const model = cnn
    ? new nn.Sequential([
      new nn.Conv2d(1, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(32, 64, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Flatten(), new nn.Linear(64 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10),
    ], { seed: 13 })
    : new nn.Sequential([new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10), new nn.Softmax()], { seed: 13 });
  model.eval();
  const shape = cnn ? [1, 28, 28] : [784];
  let s = 1300;
  const x = m.tensor(Float32Array.from({ length: batch * 784 }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32)), [batch, ...shape]);
  const q = { int8: m.quantize(model, { dtype: 'int8' }), int8static: m.quantize(model, { dtype: 'int8', calibration: x }), bf16: m.quantize(model, { dtype: 'bf16' }) };
  const cands = { float32: async () => model.predict(x), int8: async () => q.int8.predict(x), int8static: async () => q.int8static.predict(x), bf16: async () => q.bf16.predict(x) };
  try {
    const ort = require('onnxruntime-node');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-lowp-'));
    for (const name of ['int8', 'int8static']) {
      const file = path.join(dir, `${name}.onnx`);
      await m.onnx.exportModel(q[name], file, { inputShape: [1, ...shape] });
      const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
      const feeds = { input: new ort.Tensor('float32', x.data, x.shape) };
      cands[`ort-${name}`] = () => session.run(feeds);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    console.log(`onnxruntime-node peer skipped: ${err.message.split('\n')[0]}`);
  }
  const times = Object.fromEntries(Object.keys(cands).map((k) => [k, []]));
  for (const f of Object.values(cands)) await f();
  const names = Object.keys(cands);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length];
      const u0 = process.cpuUsage();
      for (let c = 0; c < calls; c++) await cands[name]();
      const u = process.cpuUsage(u0);
      times[name].push((u.user + u.system) / 1e3 / calls);
    }
  }
  const median = (a) => a.slice().sort((p, q2) => p - q2)[a.length >> 1];
  const base = median(times.float32);
  console.log(`CPU ${os.cpus()[0].model}, ${cnn ? 'CNN' : 'MLP'} batch ${batch}, ${m.info().int8Path} / ${m.info().qconvPath} / ${m.info().bf16Path}, AMX ${m.info().amx}, threads ${m.info().threads}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const name of names) {
    const t = median(times[name]);
    console.log(`${name.padEnd(16)} ${t.toFixed(2)} cpu-ms/call  ${(batch / t * 1e3).toFixed(0)} samples/cpu-s  ${(base / t).toFixed(2)}x float32`);
  }
}

main().catch((err) => {
  console.error(`lowp-cputime: ${err.message}`);
  process.exit(1);
});
