#!/usr/bin/env node
// `npm run build:ts` (and the tests' ensureDist): builds dist/ from lib/.
//   1. the generated sources: the kernel table (scripts/gen-kernels.js) and the ONNX protobuf module (gen-onnx.js);
//   2. one TypeScript program (one type check, tsc-emit.js): the JavaScript without comments, then the
//      declarations with their doc comments; the JavaScript loses its indentation too (the shipped package stays
//      small; the comments live in the .d.ts files, and every line keeps its number: dedent-js.js);
//   3. the declarations pruned to those reachable from dist/index.d.ts (prune-dts.js);
//   4. dist/index.mjs, the ES-module facade (gen-esm.js), and dist/.build-stamp (when this build started).
// Exits non-zero naming the step that failed.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const started = Date.now();

function run(what, args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build:ts: ${what} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

run('gen-kernels', [path.join(__dirname, 'gen-kernels.js')]);
run('gen-onnx', [path.join(__dirname, 'gen-onnx.js')]);
run('tsc', [path.join(__dirname, 'tsc-emit.js')]);
run('dedent-js', [path.join(__dirname, 'dedent-js.js')]);
run('prune-dts', [path.join(__dirname, 'prune-dts.js')]);
run('gen-esm', [path.join(__dirname, 'gen-esm.js')]);
const stamp = path.join(root, 'dist', '.build-stamp');
fs.writeFileSync(stamp, String(started));
fs.utimesSync(stamp, new Date(started), new Date(started));
