// An HTTP server that predicts while a Fashion-MNIST model trains in the same process: the event loop's
// lag (perf_hooks.monitorEventLoopDelay) and the requests' latency with fit on the main thread, then
// with fit(..., { background: true }) (training on a worker thread, the served model following it),
// after a baseline of serving alone.
// The dataset is read from --dir / MYELIN_DATA / /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist).
// Usage: node examples/background-lag.js [--dir DIR] [--limit ROWS] [--epochs N] [--model mlp|cnn] [--json]
'use strict';
const http = require('http');
const { monitorEventLoopDelay } = require('perf_hooks');
const myelin = require('..');
const { datasetArgs } = require('./lib/args');
const { nn, data, fit } = myelin;

function parseArgs(argv) {
  const args = datasetArgs(argv, { epochs: 1, extra: { model: { type: 'string', default: 'mlp' }, json: { type: 'boolean', default: false } } });
  if (args.model !== 'mlp' && args.model !== 'cnn') throw new Error(`--model must be mlp or cnn, got '${args.model}'`);
  return { ...args, limit: args.limit ?? 12000 };
}

function makeModel(kind) {
  if (kind === 'mlp') {
    return new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 512, { seed: 1 }), new nn.ReLU(), new nn.Linear(512, 256, { seed: 2 }), new nn.ReLU(), new nn.Linear(256, 10, { seed: 3 }));
  }
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1, seed: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1, seed: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(32 * 7 * 7, 64, { seed: 3 }), new nn.ReLU(), new nn.Linear(64, 10, { seed: 4 }),
  );
}

const ms = (ns) => ns / 1e6;
const percentile = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);

/** Trains one model while requests hit the server every 5 ms (background null: no training, 3 s of serving only); returns the lag and latency figures. */
async function phase(name, server, fashion, args, background) {
  const model = makeModel(args.model);
  server.model = model;
  const latencies = [];
  let failed = 0;
  const port = server.address().port;
  const timer = setInterval(() => {
    const t0 = process.hrtime.bigint();
    http.get({ port, path: '/predict' }, (res) => {
      res.resume();
      res.on('end', () => latencies.push(Number(process.hrtime.bigint() - t0) / 1e6));
    }).on('error', () => { failed++; });
  }, 5);
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const started = Date.now();
  const history = background === null
    ? await new Promise((r) => setTimeout(() => r(null), 3000))
    : await fit(model, fashion.train, { epochs: args.epochs, batchSize: 64, lr: 1e-3, seed: 1, verbose: 0, validationData: fashion.test, background });
  const seconds = (Date.now() - started) / 1000;
  h.disable();
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 50));
  latencies.sort((a, b) => a - b);
  return {
    phase: name,
    trainSeconds: +seconds.toFixed(2),
    samplesPerSecond: history === null ? 0 : Math.round((fashion.train.n * args.epochs) / seconds),
    valAccuracy: history === null ? null : +history.valAccuracy[history.valAccuracy.length - 1].toFixed(4),
    lagP50Ms: +ms(h.percentile(50)).toFixed(1),
    lagP99Ms: +ms(h.percentile(99)).toFixed(1),
    lagMaxMs: +ms(h.max).toFixed(1),
    requests: latencies.length,
    failedRequests: failed,
    requestP99Ms: +percentile(latencies, 0.99).toFixed(1),
  };
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`background-lag example: ${err.message}`);
    process.exit(2);
  }
  let fashion;
  try {
    fashion = data.loadFashionMnist({ dir: args.dir, limit: args.limit, shape: args.model === 'cnn' ? 'image' : 'flat' });
  } catch (err) {
    console.error(`background-lag example: ${err.message}`);
    process.exit(2);
  }
  const sample = fashion.test.x instanceof myelin.Tensor ? fashion.test.x.data.subarray(0, 784) : fashion.test.x.subarray(0, 784);
  const server = http.createServer((req, res) => {
    // The served model is the one training: in the background run, its weights are whole snapshots of a step.
    const x = args.model === 'cnn' ? new myelin.Tensor(sample, [1, 1, 28, 28]) : new myelin.Tensor(sample, [1, 784]);
    const scores = myelin.predict(server.model, x);
    res.end(JSON.stringify({ class: myelin.argmax(scores, 1).data[0] }));
  });
  server.keepAliveTimeout = 1;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const results = [];
  for (const [name, background] of [['idle', null], ['foreground', false], ['background', true]]) results.push(await phase(name, server, fashion, args, background));
  server.close();
  if (args.json) { console.log(JSON.stringify({ model: args.model, rows: fashion.train.n, epochs: args.epochs, results })); return; }
  console.log(`background-lag: ${args.model}, ${fashion.train.n} Fashion-MNIST rows x ${args.epochs} epoch(s), batch 64, ${myelin.info().backend} backend; a request every 5 ms`);
  for (const r of results) {
    const training = r.valAccuracy === null ? 'no training (the baseline: this machine\'s own scheduling delay)' : `training ${r.trainSeconds}s (${r.samplesPerSecond} samples/s), valAccuracy ${r.valAccuracy}`;
    console.log(`${r.phase.padEnd(10)}  event-loop lag p50 ${r.lagP50Ms} ms  p99 ${r.lagP99Ms} ms  max ${r.lagMaxMs} ms  |  requests ${r.requests}, p99 ${r.requestP99Ms} ms  |  ${training}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
