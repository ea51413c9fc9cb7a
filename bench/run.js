#!/usr/bin/env node
// The myelin benchmark suite (`npm run bench`): native vs pure TS vs naive JS, optional peers and BLAS.
'use strict';
const path = require('path');
const { Command, Option } = require('commander');
const { machineInfo, loadAvg } = require('./lib/machine');
const { loadMyelin, ROOT } = require('./lib/myelin');
const { writeFileAtomic } = require('./lib/atomic');
const report = require('./lib/report');
const { firstLine } = require('./lib/cases');

const GROUPS = ['gemm', 'activation', 'training', 'epoch', 'inference', 'overhead', 'xor', 'csv', 'denormal', 'serving', 'csvpredict', 'pipeline', 'lowp', 'cnn', 'embedding', 'layernorm', 'rnn', 'attention', 'threads', 'cnn-accuracy', 'distributed'];
// Not run by default, only when named: cnn-accuracy (full training runs, an hour or more) and distributed
// (it starts processes with `myelin run` and needs the Gloo addon).
const OPT_IN_GROUPS = ['cnn-accuracy', 'distributed'];

function parseOptions(argv) {
  const int = (name) => (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`bench: ${name} must be an integer >= 1, got '${v}'`);
    return n;
  };
  const program = new Command()
    .name('bench/run.js')
    .description('myelin benchmark suite: medians of interleaved repetitions, table + JSON + SVG chart')
    .option('--quick', 'fast smoke run: fewer reps, shorter blocks, smaller sizes (writes bench/results/quick.*)')
    .option('--reps <n>', 'timed repetitions per candidate (default 7, quick 3)', int('--reps'))
    .option('--warmup <n>', 'untimed warm-up blocks per candidate (default 1)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`bench: --warmup must be an integer >= 0, got '${v}'`);
      return n;
    })
    .option('--target-ms <n>', 'length of one timed block in ms (default 200, quick 30)', int('--target-ms'))
    .option('--only <groups>', `comma-separated case groups: ${GROUPS.join(',')} (${OPT_IN_GROUPS.join(', ')} only when named)`)
    .option('--peers', 'also run PyTorch, onnxruntime-node, tfjs (cpu, wasm) on the reference MLP task')
    .option('--peer-rounds <n>', 'rounds alternating myelin and each peer (default 3, quick 1)', int('--peer-rounds'))
    .option('--peer-reps <n>', 'timed reps per peer per round (default 3, quick 2)', int('--peer-reps'))
    .option('--blas', 'build and run native/tests/gemm_bench (C++ GEMM vs OpenBLAS/BLIS) and fold it in')
    .option('--max-js-gemm <n>', 'largest GEMM size for the pure-TS backend (default 1024, quick 256)', int('--max-js-gemm'))
    .option('--max-naive-gemm <n>', 'largest GEMM size for the naive JS loop (default 512, quick 256)', int('--max-naive-gemm'))
    .option('--epoch-reps <n>', 'timed epochs per backend (default 3, quick 1)', int('--epoch-reps'))
    .option('--js-epoch-fraction <f>', 'fraction of the epoch the pure-TS backend runs (default 0.1)', (v) => Number(v))
    .option('--fashion-dir <dir>', 'Fashion-MNIST directory (default /usr/share/datasets/fashion-mnist)')
    .addOption(new Option('--out <file>', 'JSON results file (default bench/results/latest.json, quick: quick.json)'))
    .option('--svg <file>', 'SVG chart file (default bench/results/speedup.svg, quick: quick.svg)')
    .option('--no-write', 'print only; write no files');
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  const q = Boolean(o.quick);
  const only = o.only ? o.only.split(',').map((s) => s.trim()).filter(Boolean) : GROUPS.filter((g) => !OPT_IN_GROUPS.includes(g));
  for (const g of only) if (!GROUPS.includes(g)) throw new Error(`bench: --only: unknown group '${g}' (known: ${GROUPS.join(', ')})`);
  const frac = o.jsEpochFraction === undefined ? 0.1 : o.jsEpochFraction;
  if (!(frac > 0 && frac <= 1)) throw new Error(`bench: --js-epoch-fraction must be in (0, 1], got ${o.jsEpochFraction}`);
  const results = path.join(__dirname, 'results');
  return {
    quick: q,
    reps: o.reps || (q ? 3 : 7),
    warmup: o.warmup === undefined ? 1 : o.warmup,
    targetSec: (o.targetMs || (q ? 30 : 200)) / 1000,
    only,
    peers: Boolean(o.peers),
    peerRounds: o.peerRounds || (q ? 1 : 3),
    peerReps: o.peerReps || (q ? 2 : 3),
    blas: Boolean(o.blas),
    maxJsGemm: o.maxJsGemm || (q ? 256 : 1024),
    maxNaiveGemm: o.maxNaiveGemm || (q ? 256 : 512),
    epochReps: o.epochReps || (q ? 1 : 3),
    jsEpochFraction: frac,
    fashionDir: o.fashionDir,
    out: path.resolve(o.out || path.join(results, q ? 'quick.json' : 'latest.json')),
    svg: path.resolve(o.svg || path.join(results, q ? 'quick.svg' : 'speedup.svg')),
    write: o.write !== false,
  };
}

function backendInfo(ctx, name) {
  if (!ctx.backends[name] || !ctx.setBackend) return null;
  try {
    ctx.setBackend(name);
    return typeof ctx.myelin.info === 'function' ? ctx.myelin.info() : ctx.backends[name].info();
  } catch (e) {
    return { error: firstLine(e) };
  }
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const started = new Date();
  const machine = machineInfo();
  const loaded = loadMyelin();
  const log = (s) => process.stdout.write(`${s}\n`);
  const ctx = { myelin: loaded.myelin, backends: loaded.backends, backendErrors: loaded.errors, setBackend: loaded.setBackend, opts, log };
  const infos = { native: backendInfo(ctx, 'native'), js: backendInfo(ctx, 'js') };
  ctx.info = infos.native || infos.js;
  if (ctx.backends.native) ctx.setBackend('native');

  log(`myelin benchmark ${opts.quick ? '(quick) ' : ''}— ${started.toISOString()}`);
  const fm = machine.cpuFamilyModel ? ` (family ${machine.cpuFamilyModel.family} model ${machine.cpuFamilyModel.model})` : '';
  log(`machine: ${machine.cpu}${fm}, ${machine.cores} cores [${machine.simdFlags.join(' ')}], ${machine.memoryGiB} GiB, ${machine.platform}, node ${machine.node}`);
  log(`load average at start (1/5/15 min): ${machine.loadAvgStart.join(' / ')}${machine.niceness ? `; running at nice ${machine.niceness}` : ''}`);
  if (Object.keys(machine.env).length) log(`environment: ${Object.entries(machine.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  log(`myelin native: ${infos.native ? JSON.stringify(infos.native) : `unavailable (${loaded.errors.native})`}`);
  log(`myelin js: ${infos.js ? JSON.stringify(infos.js) : `unavailable (${loaded.errors.js})`}`);
  log(`settings: reps ${opts.reps}, warm-up ${opts.warmup}, block ${opts.targetSec * 1000} ms, groups ${opts.only.join(',')}${opts.peers ? ', peers' : ''}${opts.blas ? ', blas' : ''}\n`);

  const { runGemm } = require('./cases/gemm');
  const { runActivations } = require('./cases/activations');
  const { runTrainStep, runTrainStepBf16, runEpoch, runXor } = require('./cases/training');
  const { runInference } = require('./cases/inference');
  const { runOverhead } = require('./cases/overhead');
  const { runCsv } = require('./cases/csv');
  const { runDenormals } = require('./cases/denormals');
  const { runServing } = require('./cases/serving');
  const { runCsvPredict } = require('./cases/csv-predict');
  const { runPipeline } = require('./cases/pipeline');
  const { runLowp } = require('./cases/lowp');
  const { runCnn } = require('./cases/cnn');
  const { runEmbedding } = require('./cases/embedding');
  const { runRnn } = require('./cases/rnn');
  const { runLayerNorm } = require('./cases/layer-norm');
  const { runCnnAccuracy } = require('./cases/cnn-accuracy');
  const { runDistributed } = require('./cases/distributed');
  const { runAttention } = require('./cases/attention');
  const { runThreads } = require('./cases/threads');
  const runners = {
    gemm: runGemm, activation: runActivations, training: async (ctx) => [...(await runTrainStep(ctx)), ...(await runTrainStepBf16(ctx))], epoch: runEpoch, inference: runInference, overhead: runOverhead, xor: runXor, csv: runCsv,
    denormal: runDenormals, serving: runServing, csvpredict: runCsvPredict, pipeline: runPipeline, lowp: runLowp, cnn: runCnn, embedding: runEmbedding, layernorm: runLayerNorm, rnn: runRnn, attention: runAttention, threads: runThreads,
    'cnn-accuracy': runCnnAccuracy, distributed: runDistributed,
  };
  const records = [];
  const groupErrors = {};
  for (const g of GROUPS) {
    if (!opts.only.includes(g)) continue;
    log(`[${g}]`);
    try {
      records.push(...(await runners[g](ctx)));
    } catch (e) {
      groupErrors[g] = firstLine(e);
      log(`  ${g} failed: ${groupErrors[g]}`);
    }
  }
  let peers = null;
  // The reference-MLP peers; `--only cnn --peers` (or cnn-accuracy) runs only the CNN groups' own PyTorch peers.
  if (opts.peers && opts.only.some((g) => g !== 'cnn' && g !== 'cnn-accuracy')) {
    log('[peers]');
    try {
      peers = await require('./cases/peers').runPeers(ctx);
    } catch (e) {
      groupErrors.peers = firstLine(e);
      log(`  peers failed: ${groupErrors.peers}`);
    }
  }
  let blas = null;
  if (opts.blas) {
    log('[blas]');
    blas = require('./cases/blas').runBlas(ctx, opts.quick ? ['--quick'] : []);
    if (blas.status !== 'ok') log(`  C++ GEMM bench ${blas.status}: ${blas.reason}`);
  }
  const targets = report.evaluateTargets(records, peers);
  machine.loadAvgEnd = loadAvg();
  const finished = new Date();

  log('');
  log(report.casesTables(records));
  if (peers) log(`\nPeers (reference task: 784-256-128-10 ReLU, softmax CE, Adam 1e-3; medians ± half IQR)\n${report.peersTable(peers)}`);
  if (blas && blas.status === 'ok') log(`\nC++ GEMM bench (${blas.binary}):\n${blas.text ? blas.text.trim() : JSON.stringify(blas.json, null, 1)}`);
  log(`\nTargets\n${report.targetsTable(targets)}`);
  for (const [g, e] of Object.entries(groupErrors)) log(`group ${g} failed: ${e}`);
  log(`\nload average at end (1/5/15 min): ${machine.loadAvgEnd.join(' / ')}; wall time ${((finished - started) / 1000).toFixed(0)} s`);

  const result = {
    schema: 1,
    started: started.toISOString(),
    finished: finished.toISOString(),
    machine,
    myelin: infos,
    backendErrors: loaded.errors,
    settings: { ...opts, out: path.relative(ROOT, opts.out), svg: path.relative(ROOT, opts.svg) },
    cases: records,
    groupErrors,
    peers,
    blas,
    targets,
  };
  if (opts.write) {
    writeFileAtomic(opts.out, `${JSON.stringify(result, null, 1)}\n`);
    const svg = report.resultChart(result);
    writeFileAtomic(opts.svg, svg);
    log(`wrote ${path.relative(process.cwd(), opts.out)} and ${path.relative(process.cwd(), opts.svg)}`);
  }
}

main().catch((e) => {
  // Usage errors ("bench: ...") print as one line; anything else with its stack.
  const msg = e && typeof e.message === 'string' && e.message.startsWith('bench:') ? e.message : e.stack || e;
  process.stderr.write(`${msg}\n`);
  process.exit(1);
});
