#!/usr/bin/env node
// Builds the optional collectives addon native/collectives/build/Release/myelin_gloo.node (distributed
// training over Gloo) with node-gyp, when the Gloo headers are installed (Debian: apt-get install
// libgloo-dev). `node scripts/build-collectives.js` exits 1 with the reason; `--optional` (the install
// script) exits 0 and stays silent when Gloo is absent, and prints one line when the build fails.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const dir = path.join(root, 'native', 'collectives');
const logFile = path.join(dir, 'build', 'myelin-gloo-build.log');

/** The directory holding gloo/allreduce.h, or null (GLOO_INCLUDE_DIR, else the usual prefixes). */
function glooHeaders() {
  const dirs = ['/usr/include', '/usr/local/include'];
  return dirs.find((d) => fs.existsSync(path.join(d, 'gloo', 'allreduce.h')) && fs.existsSync(path.join(d, 'gloo', 'rendezvous', 'file_store.h'))) ?? null;
}

function main() {
  const optional = process.argv.includes('--optional');
  if (glooHeaders() === null) {
    if (optional) return 0;
    process.stderr.write('myelin: the Gloo headers are not installed (Debian/Ubuntu: apt-get install libgloo-dev); distributed training needs them\n');
    return 1;
  }
  const { nodeGypCommand, nodedir } = require('./node-gyp');
  const [cmd, ...pre] = nodeGypCommand();
  const headers = nodedir();
  const args = [...pre, 'rebuild', ...(headers !== null && !process.env.npm_config_nodedir ? [`--nodedir=${headers}`] : [])];
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, [`$ ${[cmd, ...args].join(' ')}`, r.stdout || '', r.stderr || '', r.error ? String(r.error) : ''].join('\n'));
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status}`;
    process.stderr.write(`myelin: building the Gloo collectives addon failed (${why}; log: ${logFile}); distributed training is unavailable, the rest of myelin is unaffected\n`);
    return optional ? 0 : 1;
  }
  return 0;
}

process.exit(main());
