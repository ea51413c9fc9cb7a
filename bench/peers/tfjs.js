// TensorFlow.js peer (cpu or wasm backend): reference MLP training at batch 128, inference at 1024 and 1.
// Usage: node bench/peers/tfjs.js --backend cpu|wasm [--reps 5] [--warmup 1] [--target-sec 0.2] [--only train|infer|all]
'use strict';
const { parseArgs, measure, uniform, emit } = require('./common');

async function main() {
  const args = parseArgs(process.argv.slice(2), { backend: 'cpu', reps: 5, warmup: 1, targetSec: 0.2, only: 'all', batch: 128 });
  // tfjs prints a hint about tfjs-node on load; keep stdout for the JSON result.
  const log = console.log;
  console.log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
  const tf = require('@tensorflow/tfjs');
  if (args.backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(args.backend))) throw new Error(`tfjs peer: backend '${args.backend}' failed to initialise`);
  await tf.ready();
  console.log = log;

  const sizes = [784, 256, 128, 10];
  const params = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const bound = Math.sqrt(6 / sizes[i]);
    params.push({
      w: tf.variable(tf.randomUniform([sizes[i], sizes[i + 1]], -bound, bound, 'float32', 7 + i)),
      b: tf.variable(tf.zeros([sizes[i + 1]])),
    });
  }
  const forward = (x) => {
    let h = x;
    params.forEach((p, i) => {
      h = tf.add(tf.matMul(h, p.w), p.b);
      if (i + 1 < params.length) h = tf.relu(h);
    });
    return h;
  };

  const results = {};
  if (args.only === 'train' || args.only === 'all') {
    const batch = args.batch;
    const pool = [];
    for (let p = 0; p < 4; p++) {
      const labels = Int32Array.from(uniform(batch, 200 + p), (u) => Math.floor(u * 10));
      pool.push({ x: tf.tensor2d(uniform(batch * 784, 100 + p), [batch, 784]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), 10) });
    }
    const opt = tf.train.adam(1e-3);
    let k = 0;
    const step = () => {
      const { x, y } = pool[k++ % pool.length];
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(x)), true);
      loss.dataSync(); // wait for the step to finish
      loss.dispose();
    };
    results[`train${batch}`] = { ...(await measure(step, args)), work: batch };
  }
  if (args.only === 'infer' || args.only === 'all') {
    for (const batch of [1024, 1]) {
      const x = tf.tensor2d(uniform(batch * 784, 300 + batch), [batch, 784]);
      const run = () => tf.tidy(() => forward(x)).dataSync();
      results[`infer${batch}`] = { ...(await measure(run, args)), work: batch };
    }
  }
  emit({
    name: `tfjs-${args.backend}`,
    version: tf.version.tfjs,
    config: {
      backend: tf.getBackend(),
      ...(args.backend === 'wasm'
        ? { simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), threads: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') }
        : {}),
    },
    results,
  });
}

main().catch((e) => {
  process.stderr.write(`tfjs peer failed: ${e.stack || e}\n`);
  process.exit(1);
});
