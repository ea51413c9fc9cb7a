// onnxruntime-node peer: runs the reference MLP exported as ONNX at batch 1 and 1024; prints JSON.
// Usage: node bench/peers/onnxruntime.js --model mlp.onnx [--threads 2] [--reps 5] [--warmup 1] [--target-sec 0.2]
'use strict';
const { parseArgs, measure, uniform, emit, ortSession } = require('./common');

async function main() {
  const args = parseArgs(process.argv.slice(2), { threads: 2, reps: 5, warmup: 1, targetSec: 0.2 });
  if (typeof args.model !== 'string') throw new Error('onnxruntime peer: --model PATH is required');
  const { ort, session } = await ortSession(args.model, args.threads);
  const inputName = session.inputNames[0];
  const results = {};
  for (const batch of [1024, 1]) {
    const x = new ort.Tensor('float32', uniform(batch * 784, 300 + batch), [batch, 784]);
    const feeds = { [inputName]: x };
    const m = await measure(() => session.run(feeds), args);
    results[`infer${batch}`] = { ...m, work: batch };
  }
  emit({
    name: 'onnxruntime-node',
    version: ort.env && ort.env.versions ? ort.env.versions.node : 'unknown',
    config: { intraOpNumThreads: args.threads, model: args.model },
    results,
  });
}

main().catch((e) => {
  process.stderr.write(`onnxruntime peer failed: ${e.stack || e}\n`);
  process.exit(1);
});
