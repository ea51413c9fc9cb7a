// --blas: builds and runs the C++ GEMM benchmark (native/tests/gemm_bench vs OpenBLAS/BLIS) and folds in its output.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT } = require('../lib/myelin');
const { cpuFlagList } = require('../lib/machine');

const BUILD_DIR = path.join(ROOT, 'build-bench');

function sh(cmd, args, timeoutMs, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20, env });
  return { ok: !r.error && r.status === 0, out: r.stdout || '', err: (r.stderr || '') + (r.error ? r.error.message : '') };
}

function findBinary() {
  for (const p of ['gemm_bench', 'native/tests/gemm_bench', 'tests/gemm_bench', 'Release/gemm_bench']) {
    const f = path.join(BUILD_DIR, p);
    if (fs.existsSync(f)) return f;
  }
  return null;
}

/** Parses the benchmark's stdout: a whole JSON document, or JSON lines, else null. */
function parseOutput(text) {
  try {
    return JSON.parse(text);
  } catch {
    const objs = [];
    for (const line of text.split('\n')) {
      const l = line.trim();
      if (!l.startsWith('{') && !l.startsWith('[')) continue;
      try {
        objs.push(JSON.parse(l));
      } catch {
        // not a JSON line
      }
    }
    return objs.length ? objs : null;
  }
}

/**
 * The kernel sets each reference library runs with, one gemm_bench run per entry: OpenBLAS's own
 * choice (OPENBLAS_CORETYPE unset) with BLIS's zen3 AVX2 kernels (gemm_bench's default: Debian's BLIS
 * 0.9 does not recognise newer AMD cores), and, on a CPU with AVX-512, both libraries' AVX-512 sets
 * (OPENBLAS_CORETYPE=SkylakeX / Cooperlake, BLIS_ARCH_TYPE=0 = skx). Each library's best per shape is kept.
 */
function blasConfigs(flags = cpuFlagList()) {
  const has = (...f) => f.every((x) => flags.includes(x));
  const configs = [{ name: 'OPENBLAS_CORETYPE unset, BLIS_ARCH_TYPE=6 (zen3)', env: { BLIS_ARCH_TYPE: '6' }, unset: ['OPENBLAS_CORETYPE'] }];
  if (has('avx2', 'fma')) configs.push({ name: 'OPENBLAS_CORETYPE=Haswell, BLIS_ARCH_TYPE=3 (haswell)', env: { OPENBLAS_CORETYPE: 'Haswell', BLIS_ARCH_TYPE: '3' }, unset: [] });
  if (has('avx512f', 'avx512bw', 'avx512vl', 'avx512dq')) {
    configs.push({ name: 'OPENBLAS_CORETYPE=SkylakeX, BLIS_ARCH_TYPE=0 (skx)', env: { OPENBLAS_CORETYPE: 'SkylakeX', BLIS_ARCH_TYPE: '0' }, unset: [] });
    if (has('avx512_bf16')) configs.push({ name: 'OPENBLAS_CORETYPE=Cooperlake, BLIS_ARCH_TYPE=0 (skx)', env: { OPENBLAS_CORETYPE: 'Cooperlake', BLIS_ARCH_TYPE: '0' }, unset: [] });
  }
  return configs;
}

/**
 * Folds the runs of several configurations into one result list: per shape and thread count, ours
 * as the median of its runs, and each library at its best configuration (named).
 */
function mergeRuns(runs) {
  const byKey = new Map();
  for (const { config, json } of runs) {
    for (const r of (json && json.results) || []) {
      const key = `${r.shape}|${r.threads}`;
      const e = byKey.get(key) || { shape: r.shape, threads: r.threads, ours: [], openblas: null, blis: null };
      e.ours.push(r.ours_gflops);
      if (r.openblas_gflops > 0 && (!e.openblas || r.openblas_gflops > e.openblas.gflops)) e.openblas = { gflops: r.openblas_gflops, config };
      if (r.blis_gflops > 0 && (!e.blis || r.blis_gflops > e.blis.gflops)) e.blis = { gflops: r.blis_gflops, config };
      byKey.set(key, e);
    }
  }
  return [...byKey.values()].map((e) => {
    const sorted = [...e.ours].sort((a, b) => a - b);
    const ours = sorted[sorted.length >> 1];
    const best = Math.max(e.openblas ? e.openblas.gflops : 0, e.blis ? e.blis.gflops : 0);
    return { shape: e.shape, threads: e.threads, ours_gflops: ours, ours_runs: e.ours, openblas: e.openblas, blis: e.blis, ratio_vs_best: best > 0 ? ours / best : null };
  });
}

function mergedText(merged, peaks) {
  const lines = [`peak FMA GFLOP/s measured in the same runs: ${JSON.stringify(peaks)}`];
  lines.push(['shape', 'thr', 'ours GF/s', 'of peak (same thr)', 'OpenBLAS best', 'BLIS best', 'ours/best'].join(' | '));
  for (const r of merged) {
    const lib = (x) => (x ? `${x.gflops.toFixed(1)} [${x.config}]` : '-');
    const perRun = (peaks || []).map((p) => p[r.threads]).filter((v) => v > 0).sort((a, b) => a - b);
    const peak = perRun.length ? perRun[perRun.length >> 1] : 0; // the median run's peak at this thread count
    const frac = peak > 0 ? `${((100 * r.ours_gflops) / peak).toFixed(0)}%` : '-';
    lines.push([r.shape, r.threads, r.ours_gflops.toFixed(1), frac, lib(r.openblas), lib(r.blis), r.ratio_vs_best == null ? '-' : r.ratio_vs_best.toFixed(2)].join(' | '));
  }
  return lines.join('\n');
}

/** Returns { status: 'ok', json|text, binary } or { status: 'unavailable', reason }. */
function runBlas(ctx, extraArgs = []) {
  const src = path.join(ROOT, 'native', 'tests');
  if (!fs.existsSync(path.join(ROOT, 'CMakeLists.txt'))) return { status: 'unavailable', reason: 'no CMakeLists.txt in the package root' };
  if (!fs.readdirSync(src).some((f) => f.startsWith('gemm_bench'))) return { status: 'unavailable', reason: 'native/tests/gemm_bench* not present' };
  if (sh('cmake', ['--version'], 30000).ok === false) return { status: 'unavailable', reason: 'cmake not installed' };
  ctx.log('  configuring and building native/tests/gemm_bench (cmake, build-bench/)');
  const conf = sh('cmake', ['-S', '.', '-B', BUILD_DIR, '-DMYELIN_BUILD_TESTS=ON', '-DCMAKE_BUILD_TYPE=Release'], 600000);
  if (!conf.ok) return { status: 'unavailable', reason: `cmake configure failed (needs libopenblas-dev libblis-dev?): ${conf.err.trim().split('\n').slice(-3).join(' | ')}` };
  const build = sh('cmake', ['--build', BUILD_DIR, '--target', 'gemm_bench', '-j', '2'], 1200000);
  if (!build.ok) return { status: 'unavailable', reason: `gemm_bench build failed: ${build.err.trim().split('\n').slice(-3).join(' | ')}` };
  const bin = findBinary();
  if (!bin) return { status: 'unavailable', reason: `gemm_bench built but not found under ${BUILD_DIR}` };
  const runs = [];
  let text = '';
  for (const config of blasConfigs()) {
    const jsonFile = path.join(BUILD_DIR, 'gemm_bench.json');
    fs.rmSync(jsonFile, { force: true });
    const args = [...extraArgs, '--json', jsonFile];
    const env = { ...process.env, ...config.env };
    for (const k of config.unset) delete env[k];
    ctx.log(`  running ${path.relative(ROOT, bin)} ${args.join(' ')} with ${config.name}`);
    const run = sh(bin, args, 1800000, env);
    if (!run.ok) return { status: 'error', reason: `gemm_bench (${config.name}) failed: ${run.err.trim().split('\n').slice(-3).join(' | ')}`, text: run.out };
    let json = null;
    try {
      json = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
    } catch {
      json = parseOutput(run.out);
    }
    runs.push({ config: config.name, json });
    text += `## ${config.name}\n${run.out.trim()}\n`;
  }
  const merged = mergeRuns(runs);
  const peaks = runs.map((r) => r.json && r.json.peak_gflops).filter(Boolean);
  return { status: 'ok', binary: path.relative(ROOT, bin), json: { runs, merged }, text: `${text}\n## each library at its best configuration\n${mergedText(merged, peaks)}` };
}

module.exports = { runBlas, parseOutput, blasConfigs, mergeRuns };
