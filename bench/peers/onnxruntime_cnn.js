// onnxruntime-node peer for the 'cnn' group: runs the Fashion CNN as myelin exported it (ONNX) at batch 256 and 1; prints JSON.
// Usage: node bench/peers/onnxruntime_cnn.js --model cnn.onnx [--threads 1] [--reps 5] [--warmup 1] [--target-sec 0.2] [--batch 256]
'use strict';
const { parseArgs, measure, uniform, emit, ortSession } = require('./common');

async function main() {
  const args = parseArgs(process.argv.slice(2), { threads: 1, reps: 5, warmup: 1, targetSec: 0.2, batch: 256 });
  if (typeof args.model !== 'string') throw new Error('onnxruntime cnn peer: --model PATH is required');
  const { ort, session } = await ortSession(args.model, args.threads);
  const inputName = session.inputNames[0];
  const results = {};
  for (const [id, batch] of [['cnn-infer', args.batch], ['cnn-infer1', 1]]) {
    const feeds = { [inputName]: new ort.Tensor('float32', uniform(batch * 784, 400 + batch), [batch, 1, 28, 28]) };
    const m = await measure(() => session.run(feeds), args);
    results[id] = { ...m, work: batch, threads: args.threads };
  }
  emit({ name: 'onnxruntime-node', version: ort.env && ort.env.versions ? ort.env.versions.node : 'unknown', config: { intraOpNumThreads: args.threads }, results });
}

main().catch((e) => {
  process.stderr.write(`onnxruntime cnn peer failed: ${e.stack || e}\n`);
  process.exit(1);
});
