// The `distributed` group: data-parallel training over Gloo on this machine, each configuration run as
// real processes through `myelin run` (bench/cases/distributed-worker.js): all-reduce time and bytes
// against size; Gloo against MPI (mpirun) at 4 and 16 MB; 1 process x 2 threads against 2 processes x 1 thread on the 784-256-128-10 MLP; and how
// much of the all-reduce backward hides (small buckets started during backward vs one bucket after it).
// Two cores cannot show scaling: the figures that matter are the communication costs.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const WORKER = path.join(__dirname, 'distributed-worker.js');
const ADDON = path.join(ROOT, 'native', 'collectives', 'build', 'Release', 'myelin_gloo.node');
const MPI_ADDON = path.join(ROOT, 'native', 'collectives', 'build', 'Release', 'myelin_mpi.node');

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const fmt = (v, d = 2) => (v === null || v === undefined ? 'n/a' : Number(v).toFixed(d));

/**
 * Runs the worker as nproc ranks with `threads` native threads each; returns rank 0's JSON. launcher:
 * 'gloo' (`myelin run`), 'mpi' (mpirun: Open MPI picks shared memory between ranks on one machine) or
 * 'mpi-tcp' (mpirun --mca btl tcp,self: MPI over TCP loopback, as Gloo).
 */
function ranks(nproc, threads, args, launcher = 'gloo') {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-bench-dist-')), 'result.json');
  const worker = [WORKER, args[0], out, ...args.slice(1)];
  const [cmd, argv] = launcher === 'gloo'
    ? [process.execPath, [CLI, 'run', '--nproc', String(nproc), ...worker]]
    : ['mpirun', ['--allow-run-as-root', '--oversubscribe', ...(launcher === 'mpi-tcp' ? ['--mca', 'btl', 'tcp,self'] : []), '-np', String(nproc), process.execPath, ...worker]];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: { ...process.env, MYELIN_NUM_THREADS: String(threads) }, timeout: 600000 });
  if (r.status !== 0) throw new Error(`distributed bench: ${launcher} ${nproc} x ${threads} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  const result = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return result;
}

function table(headers, rows) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `  ${cells.map((c, i) => String(c).padEnd(w[i])).join('  ')}`;
  return [line(headers), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

async function runDistributed(ctx) {
  if (!fs.existsSync(ADDON)) throw new Error(`the Gloo collectives addon is not built (${ADDON}): apt-get install libgloo-dev, then npm run build:collectives`);
  const quick = ctx.opts.quick;
  const rounds = quick ? 1 : 3;
  const records = [];

  // 1. All-reduce time per call against size (2 ranks, 1 thread each).
  const sizes = quick ? [1e3, 1e5, 1e6] : [1e3, 1e4, 1e5, 1e6, 4e6];
  const runs = [];
  for (let i = 0; i < rounds; i++) runs.push(ranks(2, 1, ['allreduce', sizes.join(','), quick ? '10' : '30']));
  const arRows = sizes.map((n, k) => {
    const ms = median(runs.map((r) => r.sizes[k].ms));
    const sent = median(runs.map((r) => r.sizes[k].bytesSentPerCall ?? NaN));
    return { floats: n, bytes: 4 * n, ms, bytesSent: Number.isNaN(sent) ? null : sent, gbps: (4 * n) / (ms / 1000) / 1e9 };
  });
  const arTable = table(['floats', 'MB', 'ms / all-reduce', 'GB/s (bytes reduced)', 'bytes sent per rank (measured)'],
    arRows.map((r) => [r.floats, fmt(r.bytes / 1e6, 3), fmt(r.ms, 3), fmt(r.gbps, 3), r.bytesSent === null ? 'n/a' : Math.round(r.bytesSent)]));
  ctx.log(`  all-reduce, 2 processes (sum of Float32Arrays over Gloo's TCP loopback; medians of ${rounds} runs)\n${arTable}`);
  records.push({ id: 'distributed-allreduce', group: 'distributed', label: 'all-reduce time vs size (2 processes)', rows: arRows, table: arTable, candidates: {}, speedup: {}, chart: false });

  // 1b. Gloo against MPI at 4 MB and 16 MB (2 ranks, 1 thread each), interleaved rounds, when MPI is built.
  if (fs.existsSync(MPI_ADDON)) {
    const big = [1e6, 4e6];
    const launchers = [['Gloo (TCP loopback)', 'gloo'], ['MPI (Open MPI, shared memory)', 'mpi'], ['MPI (Open MPI, --mca btl tcp,self)', 'mpi-tcp']];
    const cmpRounds = quick ? 1 : 5;
    const got = launchers.map(() => []);
    for (let i = 0; i < cmpRounds; i++) launchers.forEach(([, l], k) => got[k].push(ranks(2, 1, ['allreduce', big.join(','), quick ? '10' : '30'], l)));
    const cmpRows = launchers.map(([name, l], k) => ({
      backend: name, launcher: l,
      ms: big.map((n, j) => median(got[k].map((r) => r.sizes[j].ms))),
      bytesSent: big.map((n, j) => median(got[k].map((r) => r.sizes[j].bytesSentPerCall ?? NaN))),
    }));
    const cmpTable = table(['backend (2 processes)', ...big.map((n) => `${fmt(4 * n / 1e6, 0)} MB: ms (GB/s)`), 'TCP bytes sent per rank, 16 MB'],
      cmpRows.map((r) => [r.backend, ...r.ms.map((ms, j) => `${fmt(ms, 2)} (${fmt(4 * big[j] / (ms / 1000) / 1e9, 2)})`),
        Number.isNaN(r.bytesSent[1]) ? 'n/a' : Math.round(r.bytesSent[1])]));
    ctx.log(`  all-reduce, Gloo against MPI (medians over ${cmpRounds} interleaved runs, each the median of ${quick ? 10 : 30} calls)\n${cmpTable}`);
    records.push({ id: 'distributed-allreduce-backends', group: 'distributed', label: 'all-reduce, Gloo vs MPI (2 processes)', rows: cmpRows, table: cmpTable, candidates: {}, speedup: {}, chart: false });
  } else {
    ctx.log(`  (MPI all-reduce skipped: ${MPI_ADDON} is not built; apt-get install libopenmpi-dev openmpi-bin, then npm run build:collectives)`);
  }

  // 2. Training throughput and overlap, interleaved rounds.
  const configs = [
    { name: '1 process x 2 threads', nproc: 1, threads: 2, batch: 128, bucket: 1 << 20 },
    { name: '2 processes x 1 thread, 64 KiB buckets during backward', nproc: 2, threads: 1, batch: 64, bucket: 64 << 10 },
    { name: '2 processes x 1 thread, one bucket after backward', nproc: 2, threads: 1, batch: 64, bucket: 64 << 20 },
  ];
  const epochs = quick ? 1 : 2;
  const seen = configs.map(() => []);
  for (let i = 0; i < rounds; i++) configs.forEach((c, k) => seen[k].push(ranks(c.nproc, c.threads, ['train', String(c.batch), String(epochs), String(c.bucket)])));
  const trRows = configs.map((c, k) => {
    const m = (key) => median(seen[k].map((r) => r[key] ?? NaN));
    return {
      config: c.name, nproc: c.nproc, rowsPerSecond: m('rowsPerSecond'), buckets: seen[k][0].buckets, bytesPerStep: seen[k][0].bytesPerStep,
      measuredSentPerStep: m('measuredSentPerStep'), startedInBackward: m('startedInBackward'), backwardMs: m('backwardMsPerStep'),
      waitMs: m('waitMsPerStep'), blockingMs: m('blockingAllreduceMsPerStep'),
    };
  });
  const base = trRows[0].rowsPerSecond;
  const multi = (r, text) => (r.nproc > 1 ? text : '-');
  const trTable = table(['configuration (global batch 128)', 'rows/s', 'vs 1x2', 'buckets', 'MB reduced / step', 'MB sent / step (measured)', 'started during backward', 'backward ms', 'wait after backward ms', 'all-reduce alone ms'],
    trRows.map((r) => [r.config, fmt(r.rowsPerSecond, 0), `${fmt(r.rowsPerSecond / base)}x`, r.buckets, fmt(r.bytesPerStep / 1e6, 3),
      multi(r, fmt((r.measuredSentPerStep ?? NaN) / 1e6, 3)), multi(r, `${fmt(100 * r.startedInBackward, 0)}%`), fmt(r.backwardMs),
      multi(r, fmt(r.waitMs)), multi(r, fmt(r.blockingMs))]));
  ctx.log(`  training the 784-256-128-10 MLP (4096 rows, Adam; medians of ${rounds} interleaved runs of ${epochs} epochs after a warm-up epoch)\n${trTable}`);
  ctx.log('  started during backward: share of the gradient bytes whose all-reduce began while backward still had work left (every bucket but the last).');
  ctx.log('  Communication backward can hide is at');
  ctx.log('  most min(backward, all-reduce alone); the wait after backward also holds waiting for the other rank to finish its step (stragglers).');
  records.push({ id: 'distributed-training', group: 'distributed', label: 'data-parallel training, 1x2 vs 2x1', rows: trRows, table: trTable, candidates: {}, speedup: {}, chart: false });
  return records;
}

module.exports = { runDistributed };
