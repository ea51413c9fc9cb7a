// CPU-time figures of docs/performance.md "Convolutions": the native conv kernels alone (3x3, padding 1,
// batch 128) and the Fashion CNN's predict against onnxruntime-node on myelin's ONNX export, interleaved.
//   MYELIN_NUM_THREADS=1 node bench/cnn-cpu.js
'use strict';
const path = require('path');
const os = require('os');
const dist = path.join(__dirname, '..', 'dist');
const m = require(dist);
const { loadNative } = require(path.join(dist, 'backend', 'native.js'));
const { buildCnn } = require('./cases/cnn');
const { ortSession, uniform } = require('./peers/common');

const C = loadNative({ smallCallsInJs: false });
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const cpu = (f) => {
  const t0 = process.cpuUsage();
  f();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
};
const rnd = (n) => uniform(n, n % 997);

function kernels(N) {
  for (const [Cin, OC, H] of [[1, 32, 28], [32, 64, 14]]) {
    const geom = Int32Array.from([Cin, H, H, OC, H, H, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
    const base = { N, C: Cin, OC, inPlane: H * H, outPlane: H * H, kArea: Cin * 9, G: 15, geom };
    const X = rnd(N * Cin * H * H), W = rnd(OC * Cin * 9), bias = rnd(OC), out = new Float32Array(N * OC * H * H), dY = rnd(N * OC * H * H);
    const dX = new Float32Array(X.length), dW = new Float32Array(W.length);
    const cases = {
      'forward+bias+relu': () => C.conv2dForward({ ...base, X, W, bias, act: 'relu', alpha: 0, out }),
      dW: () => C.conv2dBackward({ ...base, X, W, dY, dX: null, dW, dB: null, accumulate: true }),
      dX: () => C.conv2dBackward({ ...base, X, W, dY, dX, dW: null, dB: null, accumulate: true }),
    };
    const t = {};
    for (const [k, f] of Object.entries(cases)) {
      for (let i = 0; i < 3; i++) f();
      t[k] = `${med(Array.from({ length: 11 }, () => cpu(f))).toFixed(2)} ms`;
    }
    console.log(`conv ${Cin}->${OC} ${H}x${H} batch ${N}:`, t);
  }
}

async function vsOrt() {
  const model = buildCnn(m, 7);
  model.eval();
  const file = path.join(os.tmpdir(), `myelin-cnn-cpu-${process.pid}.onnx`);
  await m.onnx.exportModel(buildCnn(m, 7), file, { inputShape: [1, 1, 28, 28] });
  const { ort, session } = await ortSession(file, 1);
  for (const B of [256, 1]) {
    const xs = uniform(B * 784, 400 + B);
    const xm = new m.Tensor(Float32Array.from(xs), [B, 1, 28, 28]);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(xs), [B, 1, 28, 28]) };
    const inner = B === 1 ? 200 : 3;
    const mine = [], theirs = [];
    for (let i = 0; i < 3; i++) {
      model.predict(xm);
      await session.run(feeds);
    }
    for (let r = 0; r < 11; r++) {
      mine.push(cpu(() => { for (let i = 0; i < inner; i++) model.predict(xm); }) / inner);
      const t0 = process.cpuUsage();
      for (let i = 0; i < inner; i++) await session.run(feeds);
      const d = process.cpuUsage(t0);
      theirs.push((d.user + d.system) / 1000 / inner);
    }
    console.log(`predict batch ${B}: myelin ${med(mine).toFixed(3)} ms, onnxruntime-node ${med(theirs).toFixed(3)} ms CPU (onnxruntime/myelin ${(med(theirs) / med(mine)).toFixed(2)}x)`);
  }
  require('fs').rmSync(file, { force: true });
}

kernels(128);
vsOrt().catch((e) => {
  console.error(e);
  process.exit(1);
});
