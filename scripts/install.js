#!/usr/bin/env node
// myelin's npm install script. The native addon is optional, so this never fails the install:
//   1. a binary that loads already (prebuilds/<platform>-<arch>/ shipped in the package, or build/Release/):
//      nothing to do;
//   2. otherwise compile it with node-gyp (binding.gyp), output captured in build/myelin-install.log;
//   3. if that fails (no compiler, no Python, no Node headers...), print ONE line saying so and that myelin
//      will run on its pure-TypeScript backend, and exit 0.
//   4. where Gloo's headers (Debian: libgloo-dev) or MPI (libopenmpi-dev openmpi-bin) are installed and a
//      compiler is found, also build the optional collectives addons for distributed training
//      (scripts/build-collectives.js; one line if it fails).
// `npm install --build-from-source` (npm_config_build_from_source=true) skips step 1, as node-gyp-build does,
// and so does a source checkout (lib/index.ts present): there `npm install` always compiles the addon.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const logFile = path.join(root, 'build', 'myelin-install.log');
const FIX = 'install a C++ toolchain (Debian/Ubuntu: apt-get install g++ make python3) and node-addon-api (`npm install node-addon-api`), then run `npm rebuild myelin`';

/** The .node file node-gyp-build would load for this package, or null. */
function resolveAddon() {
  try {
    return require('node-gyp-build').resolve(root);
  } catch {
    return null;
  }
}

/** Loads the addon in a child process (a binary for the wrong CPU or libc fails there, not here). */
function loads(file) {
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', file], { stdio: 'ignore', timeout: 60000 });
  return r.status === 0;
}

/** The first of the given programs found on PATH (or CXX when set), else null. */
function findOnPath(names) {
  const cxx = process.env.CXX;
  if (cxx !== undefined && cxx.trim() !== '') return cxx;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    for (const name of names) {
      const file = path.join(dir || '.', name);
      try {
        fs.accessSync(file, fs.constants.X_OK);
        return file;
      } catch {
        // keep looking
      }
    }
  }
  return null;
}

/** What went wrong in a node-gyp log, as a short phrase; '' when it says nothing recognisable. */
function firstError(log) {
  if (/getNodeDir|rolling back install/.test(log)) return 'node-gyp could not download the Node.js headers';
  const lines = log.split('\n');
  const line = lines.find((l) => /\berror:|fatal error/i.test(l)) || lines.find((l) => /ERR! stack Error:/.test(l)) || '';
  const text = line.replace(/^gyp ERR! stack /, '').trim();
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** Whether node-addon-api's headers can be found from this package (binding.gyp requires it). */
function hasAddonApi() {
  try {
    require.resolve('node-addon-api', { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

/** Runs `node-gyp rebuild`, writing its output to the log; returns the failure (a short phrase) or null. */
function compile() {
  // node-addon-api (the C++ wrapper headers) is a devDependency and an optional peer: an installed package
  // compiles only when the user installed it next to myelin (the prebuilds need no headers).
  if (!hasAddonApi()) {
    const why = 'compiling it needs node-addon-api, which is not installed (`npm install node-addon-api`)';
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    fs.writeFileSync(logFile, `node-gyp was not run: ${why}\n`);
    return why;
  }
  const { nodeGypCommand, nodedir } = require('./node-gyp'); // inside main()'s try: never fails the install
  const [cmd, ...pre] = nodeGypCommand();
  const headers = nodedir();
  const args = [...pre, 'rebuild', ...(headers !== null && !process.env.npm_config_nodedir ? [`--nodedir=${headers}`] : [])];
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const log = [`$ ${[cmd, ...args].join(' ')}`, r.stdout || '', r.stderr || '', r.error ? String(r.error) : ''];
  fs.mkdirSync(path.dirname(logFile), { recursive: true }); // after node-gyp, whose rebuild removes build/
  fs.writeFileSync(logFile, log.join('\n'));
  if (r.error) return `could not run node-gyp (${r.error.message})`;
  if (r.status !== 0) {
    const compiler = findOnPath(['c++', 'g++', 'clang++']);
    if (compiler === null) return 'compiling it failed: no C++ compiler found (c++, g++, clang++ not on PATH)';
    const first = firstError(`${r.stdout || ''}\n${r.stderr || ''}`);
    return `compiling it with node-gyp failed (exit ${r.status}${first ? `: ${first}` : ''})`;
  }
  return null;
}

function main() {
  const platform = `${process.platform}-${process.arch}`;
  // A source checkout (lib/ is not in the package) always compiles, so a prebuilds/ left by `npm pack`
  // never stands in for newer native sources.
  const sourceTree = fs.existsSync(path.join(root, 'lib', 'index.ts'));
  const fromSource = sourceTree || process.env.npm_config_build_from_source === 'true';
  if (!fromSource) {
    const existing = resolveAddon();
    if (existing !== null && loads(existing)) return;
  }
  const failure = compile();
  const addon = resolveAddon();
  const usable = addon !== null && loads(addon);
  if (failure === null && usable) return;
  const why = failure ?? 'the compiled addon does not load';
  const what = sourceTree ? 'in a source checkout the native addon is compiled'
    : fromSource ? 'building from source' : `no prebuilt native addon for ${platform} loads here`;
  const fallback = usable ? `myelin will use the existing ${addon}, which may be older than the sources`
    : 'myelin will run on its pure-TypeScript backend';
  process.stderr.write(`myelin: ${what} and ${why} (log: ${logFile}); ${fallback}. For the native backend, ${FIX}.\n`);
}

/** Step 4: the optional collectives addons, only where Gloo or MPI (mpicc) and a compiler are (silent otherwise). */
function collectives() {
  // build-collectives.js --optional looks for Gloo and MPI itself and stays silent when neither is there.
  if (findOnPath(['c++', 'g++', 'clang++']) === null || !hasAddonApi()) return;
  spawnSync(process.execPath, [path.join(__dirname, 'build-collectives.js'), '--optional'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

try {
  main();
  collectives();
} catch (err) {
  // Never fail the install over the optional addon.
  process.stderr.write(`myelin: the install script failed (${err instanceof Error ? err.message : String(err)}); ` +
    `myelin will run on its pure-TypeScript backend. For the native backend, ${FIX}.\n`);
}
process.exit(0);
