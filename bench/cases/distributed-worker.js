// One rank of the `distributed` benchmark group (bench/cases/distributed.js starts it through
// `myelin run` for Gloo, or mpirun for MPI). argv: mode outFile [args]. Rank 0 writes the JSON result to outFile.
//   allreduce outFile sizes reps   : median ms of group.allreduce on Float32Arrays of each size
//   train outFile batch epochs bucketBytes : one warm-up epoch, then timed epochs of the 784-256-128-10 MLP
'use strict';
const fs = require('fs');
const { execFileSync } = require('child_process');
const m = require('../../dist/index.js');

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

/** Bytes sent so far by each of this process's TCP sockets (the kernel's tcp_info via `ss`), by socket; null without ss. */
function bytesSent() {
  try {
    const out = execFileSync('ss', ['-tinpH'], { encoding: 'utf8' });
    const sockets = new Map();
    let key = null;
    for (const line of out.split('\n')) {
      if (/users:/.test(line)) {
        const f = line.trim().split(/\s+/);
        key = line.includes(`pid=${process.pid},`) ? `${f[3]} ${f[4]}` : null;
      }
      const b = /bytes_sent:(\d+)/.exec(line);
      if (key !== null && b) sockets.set(key, Number(b[1]));
    }
    return sockets;
  } catch {
    return null;
  }
}

/** Bytes sent between two bytesSent() snapshots, over the sockets present in both; null without ss. */
function sentBetween(a, b) {
  if (a === null || b === null) return null;
  let total = 0;
  for (const [k, v] of b) if (a.has(k)) total += v - a.get(k);
  return total;
}

async function main() {
  const [mode, outFile, ...args] = process.argv.slice(2);
  // Started by mpirun (bench/cases/distributed.js's MPI runs): backend 'mpi'; else `myelin run`'s Gloo.
  const g = m.distributed.init(process.env.OMPI_COMM_WORLD_SIZE !== undefined ? { backend: 'mpi' } : {});
  let result;
  if (mode === 'allreduce') {
    const sizes = args[0].split(',').map(Number);
    const reps = Number(args[1]);
    result = { sizes: [] };
    for (const n of sizes) {
      const a = new Float32Array(n).fill(1);
      for (let i = 0; i < 3; i++) g.allreduce(a);
      const times = [];
      const sent0 = bytesSent();
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        g.allreduce(a);
        times.push(performance.now() - t0);
      }
      const sent1 = bytesSent();
      const sent = sentBetween(sent0, sent1);
      result.sizes.push({ floats: n, ms: median(times), bytesSentPerCall: sent === null ? null : sent / reps });
    }
  } else {
    const [batch, epochs, bucketBytes] = args.map(Number);
    const n = 4096;
    const x = m.randn([n, 784], { seed: 2 });
    const y = new Int32Array(n).map((_, i) => (i * 7) % 10);
    const model = new m.nn.Sequential(new m.nn.Linear(784, 256), new m.nn.ReLU(), new m.nn.Linear(256, 128), new m.nn.ReLU(), new m.nn.Linear(128, 10), { seed: 1 });
    let stats = null;
    const opts = (e) => ({ epochs: e, batchSize: batch, seed: 1, lr: 1e-3, verbose: 0, distributed: { bucketBytes, onStats: (s) => { stats = s; } } });
    await m.fit(model, { x, y }, opts(1)); // warm-up
    const sent0 = bytesSent();
    const t0 = performance.now();
    await m.fit(model, { x, y }, opts(epochs));
    const seconds = (performance.now() - t0) / 1000;
    const sent1 = bytesSent();
    const steps = stats.steps;
    // The same buckets all-reduced back to back with nothing else running: the communication to hide.
    const bufs = stats.bucketSizes.map((k) => new Float32Array(k));
    const blocking = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      for (const b of bufs) g.allreduce(b);
      blocking.push(performance.now() - t);
    }
    result = {
      rowsPerSecond: (n * epochs) / seconds, steps, buckets: stats.buckets, bytesPerStep: stats.bytesPerStep,
      ringSentPerStep: stats.sentPerStep, measuredSentPerStep: sentBetween(sent0, sent1) === null ? null : sentBetween(sent0, sent1) / steps,
      startedInBackward: stats.bytesStartedInBackward / (steps * stats.bytesPerStep),
      backwardMsPerStep: stats.backwardMs / steps, waitMsPerStep: stats.waitMs / steps, blockingAllreduceMsPerStep: median(blocking),
    };
  }
  if (g.rank === 0) fs.writeFileSync(outFile, JSON.stringify(result));
  m.distributed.destroy();
}

main().catch((e) => {
  process.stderr.write(`distributed bench rank ${process.env.RANK ?? process.env.OMPI_COMM_WORLD_RANK}: ${e && e.stack}\n`);
  process.exit(1);
});
