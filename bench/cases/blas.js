// --blas: builds and runs the C++ GEMM benchmark (native/tests/gemm_bench vs OpenBLAS/BLIS) and folds in its output.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT } = require('../lib/myelin');

const BUILD_DIR = path.join(ROOT, 'build-bench');

function sh(cmd, args, timeoutMs) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
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
  const jsonFile = path.join(BUILD_DIR, 'gemm_bench.json');
  fs.rmSync(jsonFile, { force: true });
  const args = [...extraArgs, '--json', jsonFile];
  ctx.log(`  running ${path.relative(ROOT, bin)} ${args.join(' ')}`);
  const run = sh(bin, args, 1800000);
  if (!run.ok) return { status: 'error', reason: `gemm_bench failed: ${run.err.trim().split('\n').slice(-3).join(' | ')}`, text: run.out };
  let json = null;
  try {
    json = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  } catch {
    json = parseOutput(run.out);
  }
  return { status: 'ok', binary: path.relative(ROOT, bin), json, text: run.out };
}

module.exports = { runBlas, parseOutput };
