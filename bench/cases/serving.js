// Serving cases: an HTTP inference server under autocannon (predict, predictAsync, batched predictAsync), and event-loop delay during a long predictAsync job.
// Run as `node bench/cases/serving.js --server MODE` it is the server child itself.
'use strict';
const http = require('http');
const path = require('path');
const { spawn } = require('child_process');
const { monitorEventLoopDelay, performance } = require('perf_hooks');
const { summarize, rateFromTime } = require('../lib/stats');
const { loadAvg } = require('../lib/machine');
const { randomArray } = require('../lib/cases');

/** The served model: the suite's reference MLP with a softmax head, seeded. */
const LAYERS = [784, 256, 128, 10];
const CONNECTIONS = 50;
const MODES = {
  predict: { label: 'predict (synchronous)', options: null },
  predictAsync: { label: 'predictAsync, batching off', options: { batch: false } },
  batched: { label: 'predictAsync, batched (default)', options: {} },
};

function buildModel(myelin) {
  const { nn } = myelin;
  const mods = [];
  for (let i = 0; i + 1 < LAYERS.length; i++) {
    mods.push(new nn.Linear(LAYERS[i], LAYERS[i + 1], { seed: 100 + i }));
    if (i + 2 < LAYERS.length) mods.push(new nn.ReLU());
  }
  return new nn.Sequential(...mods, new nn.Softmax());
}

/** The answer the server sends: the top class and the probabilities. */
function answer(y) {
  let best = 0;
  for (let i = 1; i < y.data.length; i++) if (y.data[i] > y.data[best]) best = i;
  return JSON.stringify({ class: best, probabilities: Array.from(y.data) });
}

// ---- the server child -------------------------------------------------------------------------

/** POST /predict with one row of 784 float32 (little-endian, 3136 bytes); replies with JSON. */
function serverMain(mode) {
  const myelin = require(path.join(__dirname, '..', '..'));
  const model = buildModel(myelin);
  const { tensor } = myelin;
  const width = LAYERS[0];
  const opts = MODES[mode] && MODES[mode].options;
  if (!MODES[mode]) throw new Error(`serving bench: unknown server mode '${mode}'`);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (body.length !== width * 4) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`expected ${width * 4} bytes (${width} float32), got ${body.length}\n`);
        return;
      }
      const row = new Float32Array(width);
      new Uint8Array(row.buffer).set(body);
      const x = tensor(row, [1, width]);
      const reply = (y) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(answer(y));
      };
      const fail = (e) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${e.message}\n`);
      };
      if (opts === null) {
        try {
          reply(model.predict(x));
        } catch (e) {
          fail(e);
        }
      } else {
        model.predictAsync(x, opts).then(reply, fail);
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  // The parent closes stdin to stop the server.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

// ---- the load generator (the bench process) ---------------------------------------------------

function startServer(mode) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--server', mode], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        try {
          resolve({ child, port: JSON.parse(out.slice(0, nl)).port });
        } catch (e) {
          reject(new Error(`serving bench: server '${mode}' printed ${JSON.stringify(out.slice(0, 200))}: ${e.message}`));
        }
      }
    });
    child.on('exit', (code, signal) => reject(new Error(`serving bench: server '${mode}' exited (${signal || code}) before listening: ${err.slice(-500)}`)));
  });
}

function stopServer(s) {
  return new Promise((resolve) => {
    s.child.removeAllListeners('exit');
    s.child.once('exit', () => resolve());
    s.child.stdin.end();
  });
}

/** One POST, for the correctness check before the load. */
function postOnce(port, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/predict', method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** autocannon at CONNECTIONS connections for `seconds`: requests/s and latency percentiles (ms). */
function load(port, body, seconds) {
  const autocannon = require('autocannon');
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}/predict`,
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body,
        connections: CONNECTIONS,
        duration: seconds,
      },
      (err, r) => {
        if (err) return reject(err);
        if (r.errors > 0 || r.timeouts > 0 || r.non2xx > 0) {
          return reject(new Error(`serving bench: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx responses`));
        }
        resolve({ rps: r.requests.total / (r.duration || seconds), p50: r.latency.p50, p99: r.latency.p99, total: r.requests.total });
      },
    );
  });
}

/** Medians over rounds; the time summary is seconds per request, as the other cases keep it. */
function candidateOf(rounds) {
  const perRequest = rounds.map((r) => 1 / r.rps);
  const time = summarize(perRequest);
  return {
    status: 'ok',
    iters: rounds.map((r) => r.total),
    samples: perRequest,
    time,
    value: rateFromTime(time, 1),
    p99: summarize(rounds.map((r) => r.p99)),
    p50: summarize(rounds.map((r) => r.p50)),
  };
}

async function runHttp(ctx) {
  const q = ctx.opts.quick;
  const seconds = q ? 1 : 4;
  const rounds = ctx.opts.reps;
  const body = Buffer.from(randomArray(LAYERS[0], 77, 0, 1).buffer);
  const names = Object.keys(MODES);
  const servers = {};
  const record = {
    id: 'serving-http',
    group: 'serving',
    label: `HTTP server, ${CONNECTIONS} connections, 1-row requests (MLP ${LAYERS.join('-')})`,
    short: 'HTTP 1-row requests',
    note:
      `autocannon in the bench process, ${CONNECTIONS} connections, ${rounds} rounds of ${seconds} s per mode (order rotated each round) after a 1 s warm-up; ` +
      'the server is a child process: POST one row of 784 float32 (binary), reply JSON {class, probabilities}. Load generator and server share the machine\'s cores.',
    display: { kind: 'rate', unit: 'req/s', work: 1 },
    baseline: 'predict',
    chart: false,
    loadAvg: loadAvg(),
    candidates: {},
    speedup: {},
  };
  try {
    for (const n of names) servers[n] = await startServer(n);
    // Every server gives the same answer as the model in this process before it is loaded.
    const want = JSON.parse(answer(buildModel(ctx.myelin).predict(ctx.myelin.tensor(new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length)), [1, LAYERS[0]]))));
    for (const n of names) {
      const got = await postOnce(servers[n].port, body);
      const worst = Math.max(...got.probabilities.map((p, i) => Math.abs(p - want.probabilities[i])));
      if (got.class !== want.class || !(worst < 1e-5)) throw new Error(`serving bench: server '${n}' answered ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
    for (const n of names) await load(servers[n].port, body, 1);
    const results = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < names.length; i++) {
        const n = names[(i + r) % names.length];
        results[n].push(await load(servers[n].port, body, seconds));
      }
    }
    for (const n of names) record.candidates[n] = candidateOf(results[n]);
    const base = record.candidates.predict;
    for (const n of names) if (n !== 'predict') record.speedup[n] = base.time.median / record.candidates[n].time.median;
    record.speedupBaseline = 'predict';
  } finally {
    for (const s of Object.values(servers)) await stopServer(s);
  }
  const parts = names.map((n) => {
    const c = record.candidates[n];
    return `${n} ${c.value.median.toFixed(0)} req/s p99 ${c.p99.median.toFixed(1)} ms`;
  });
  ctx.log(`  ${record.label}: ${parts.join(', ')}`);
  return record;
}

/**
 * Event-loop delay during one long inference job on a wide MLP: predictAsync (native worker) against
 * predict (on the main thread, blocking). p99 of the loop delay in ms, sampled every millisecond.
 */
async function runLoopDelay(ctx) {
  const myelin = ctx.myelin;
  const { nn } = myelin;
  const big = new nn.Sequential(new nn.Linear(784, 2048, { seed: 1 }), new nn.ReLU(), new nn.Linear(2048, 2048, { seed: 2 }), new nn.ReLU(), new nn.Linear(2048, 10, { seed: 3 }));
  const batchSize = 256;
  // Size the job from a calibration run: about 1 s (0.3 s quick) of inference.
  const probe = myelin.randn([batchSize, 784], { seed: 5 });
  const t0 = performance.now();
  await big.predictAsync(probe, { batchSize });
  const perRow = (performance.now() - t0) / batchSize;
  const rows = Math.max(batchSize, Math.min(100_000, Math.round((ctx.opts.quick ? 300 : 1000) / perRow)));
  const x = myelin.randn([rows, 784], { seed: 6 });
  const samples = { predictAsync: [], predict: [] };
  const elu = { predictAsync: [], predict: [] };
  for (let r = 0; r < ctx.opts.reps; r++) {
    for (const name of r % 2 === 0 ? ['predictAsync', 'predict'] : ['predict', 'predictAsync']) {
      const h = monitorEventLoopDelay({ resolution: 1 });
      const e0 = performance.eventLoopUtilization();
      h.enable();
      // A timer keeps the loop sampled while the job runs (the blocking predict starts after it).
      await new Promise((res) => setTimeout(res, 20));
      if (name === 'predictAsync') await big.predictAsync(x, { batchSize });
      else big.predict(x, { batchSize });
      await new Promise((res) => setTimeout(res, 20));
      h.disable();
      elu[name].push(performance.eventLoopUtilization(e0).utilization);
      samples[name].push(h.percentile(99) / 1e6);
    }
  }
  const rec = {
    id: 'serving-loop-delay',
    group: 'serving',
    label: `event-loop delay p99 during a ${rows}-row inference job (MLP 784-2048-2048-10, batchSize ${batchSize})`,
    short: 'event-loop delay p99',
    note: 'monitorEventLoopDelay (1 ms resolution) around one job; predictAsync runs the batches on a native worker, predict blocks the main thread for the whole job',
    display: { kind: 'time', unit: 'ms p99 delay', scale: 1 },
    baseline: 'predict',
    modeNames: { predictAsync: 'predictAsync (native worker)', predict: 'predict (main thread)' },
    chart: false,
    loadAvg: loadAvg(),
    candidates: {},
    speedup: {},
  };
  for (const name of ['predictAsync', 'predict']) {
    const v = summarize(samples[name]);
    rec.candidates[name] = { status: 'ok', iters: [], samples: samples[name], time: v, value: v, eventLoopUtilization: summarize(elu[name]) };
  }
  ctx.log(`  ${rec.label}: predictAsync ${rec.candidates.predictAsync.value.median.toFixed(2)} ms (utilization ${(rec.candidates.predictAsync.eventLoopUtilization.median * 100).toFixed(0)}%), predict ${rec.candidates.predict.value.median.toFixed(0)} ms`);
  return rec;
}

async function runServing(ctx) {
  if (!ctx.backends.native) throw new Error(`serving bench needs the native backend: ${ctx.backendErrors.native || 'not loaded'}`);
  ctx.setBackend('native');
  return [await runHttp(ctx), await runLoopDelay(ctx)];
}

module.exports = { runServing, MODES, CONNECTIONS, LAYERS };

if (require.main === module && process.argv[2] === '--server') serverMain(process.argv[3]);
