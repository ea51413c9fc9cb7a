#!/usr/bin/env node
// Sanitizer run: builds a Debug addon with -fsanitize=address,undefined into build-asan/, then runs the
// kernel and binding tests against it (MYELIN_ADDON_PATH, libasan preloaded). Exits non-zero on any
// test failure or sanitizer report.
//
//   npm run test:asan                 build (incremental) + test
//   node scripts/test-asan.js --no-build    reuse build-asan/ as is
//   node scripts/test-asan.js test/x.test.ts   extra/other test files
'use strict';

const { spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'build-asan');
const addon = path.join(buildDir, 'Debug', 'myelin.node');
const args = process.argv.slice(2);
const noBuild = args.includes('--no-build');
const extraTests = args.filter((a) => !a.startsWith('--'));

function fail(msg) {
  console.error(`test-asan: ${msg}`);
  process.exit(1);
}

// 1. Locate the sanitizer runtime to preload (node itself is not instrumented).
let libasan;
try {
  libasan = execFileSync(process.env.CC || 'gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
} catch (e) {
  fail(`could not ask gcc for libasan: ${e.message}`);
}
if (!path.isAbsolute(libasan) || !fs.existsSync(libasan)) {
  fail(`libasan.so not found (gcc -print-file-name=libasan.so gave "${libasan}"); install gcc's libasan (apt-get install -y libasan8)`);
}

// 2. Build the sanitized addon with cmake-js (same CMakeLists.txt and sources.json as the release build).
if (!noBuild) {
  // cmake-js owns CMAKE_CXX_FLAGS, so the sanitizers go through CMakeLists.txt's MYELIN_SANITIZE.
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  // configure every time (cheap; 'compile' would keep a stale cache), then an incremental build.
  for (const step of ['configure', 'build']) {
    const extra = step === 'configure' ? ['--CDMYELIN_SANITIZE=address,undefined'] : [];
    const r = spawnSync(process.execPath, [cmakeJs, step, '--debug', '--out', buildDir, ...extra],
      { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) fail(`the sanitizer build failed (cmake-js ${step} exit ${r.status})`);
  }
}
if (!fs.existsSync(addon)) fail(`${addon} not found (build first, without --no-build)`);

// 3. Check the addon really is instrumented (it reports the sanitizers it was compiled with).
const probe = spawnSync(process.execPath, ['-e',
  `process.stdout.write(String(require(${JSON.stringify(addon)}).info().sanitizers || ''))`], {
  env: { ...process.env, LD_PRELOAD: libasan, ASAN_OPTIONS: 'detect_leaks=0' }, encoding: 'utf8' });
if (probe.status !== 0 || !/address/.test(probe.stdout)) {
  fail(`${addon} does not report an ASan build (info().sanitizers = "${probe.stdout}", ${probe.stderr.trim()})`);
}

// 4. Run the tests against it. Leak detection is off: V8 keeps allocations alive at exit by design.
// serve-safety, denormals and backend-consistency run native code in child processes and worker
// threads too: those inherit the sanitizer preload and MYELIN_ADDON_PATH, and a sanitizer abort in
// one of them fails the test that started it (its stderr is in the failure message).
const defaultTests = ['test/kernels.test.ts', 'test/native-binding.test.ts', 'test/native-workers.test.ts',
  'test/serve-safety.test.ts', 'test/denormals.test.ts', 'test/backend-consistency.test.ts']
  .filter((f) => fs.existsSync(path.join(root, f)));
const tests = extraTests.length > 0 ? extraTests : defaultTests;
const env = {
  ...process.env,
  MYELIN_ADDON_PATH: addon,
  MYELIN_BACKEND: 'native',
  LD_PRELOAD: [libasan, process.env.LD_PRELOAD].filter(Boolean).join(':'),
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:print_stacktrace=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};
console.log(`test-asan: ${addon}\ntest-asan: preloading ${libasan}\ntest-asan: running ${tests.join(' ')}`);
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(process.execPath, [vitest, 'run', ...tests], { cwd: root, env, encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024 });
process.stdout.write(run.stdout || '');
process.stderr.write(run.stderr || '');

// 5. Any sanitizer report is a failure, even if the test runner survived it.
const output = `${run.stdout || ''}\n${run.stderr || ''}`;
const report = /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|UndefinedBehaviorSanitizer/.exec(output);
if (report) fail(`sanitizer report found ("${report[0]}")`);
if (run.status !== 0) fail(`tests failed (exit ${run.status}${run.signal ? `, signal ${run.signal}` : ''})`);
console.log('test-asan: no sanitizer reports, all tests passed');
