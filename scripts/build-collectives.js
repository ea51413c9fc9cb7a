#!/usr/bin/env node
// Builds the optional collectives addons for distributed training with node-gyp (native/collectives):
// build/Release/myelin_gloo.node where the Gloo headers are installed (Debian: apt-get install libgloo-dev),
// build/Release/myelin_mpi.node where an MPI compiler wrapper and mpi.h are (Debian: apt-get install
// libopenmpi-dev openmpi-bin). `node scripts/build-collectives.js` builds what is installed, says what is
// not, and exits 1 when it built nothing; `--optional` (the install script) exits 0 and stays silent when
// neither library is present, and prints one line when the build fails.
// binding.gyp asks this script: `--detect gloo|mpi` prints 1 or 0; `--flags mpi compile|link` prints the
// MPI wrapper's flags.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const dir = path.join(root, 'native', 'collectives');
const logFile = path.join(dir, 'build', 'myelin-collectives-build.log');

/** The directory holding gloo/allreduce.h, or null (the usual prefixes). */
function glooHeaders() {
  const dirs = ['/usr/include', '/usr/local/include'];
  return dirs.find((d) => fs.existsSync(path.join(d, 'gloo', 'allreduce.h')) && fs.existsSync(path.join(d, 'gloo', 'rendezvous', 'file_store.h'))) ?? null;
}

/** The MPI wrapper compiler's flags (Open MPI's `mpicc --showme:<what>`), or null when there is no mpicc. */
function mpiFlags(what) {
  const r = spawnSync('mpicc', [`--showme:${what}`], { encoding: 'utf8' });
  return r.status === 0 && !r.error ? r.stdout.trim() : null;
}

/** True when mpicc runs and one of its include directories holds mpi.h. */
function hasMpi() {
  const dirs = mpiFlags('incdirs');
  return dirs !== null && dirs.split(/\s+/).some((d) => d !== '' && fs.existsSync(path.join(d, 'mpi.h')));
}

const LIBRARIES = {
  gloo: { present: () => glooHeaders() !== null, addon: 'myelin_gloo.node', what: 'the Gloo headers', install: 'apt-get install libgloo-dev' },
  mpi: { present: hasMpi, addon: 'myelin_mpi.node', what: 'MPI (mpicc and mpi.h)', install: 'apt-get install libopenmpi-dev openmpi-bin' },
};

function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--detect') {
    const lib = LIBRARIES[argv[1]];
    process.stdout.write(lib !== undefined && lib.present() ? '1' : '0');
    return 0;
  }
  if (argv[0] === '--flags') {
    const flags = argv[1] === 'mpi' ? mpiFlags(argv[2] === 'link' ? 'link' : 'compile') : null;
    process.stdout.write(flags ?? '');
    return flags === null ? 1 : 0;
  }
  const optional = argv.includes('--optional');
  const present = Object.keys(LIBRARIES).filter((k) => LIBRARIES[k].present());
  if (!optional) {
    for (const [k, lib] of Object.entries(LIBRARIES)) {
      if (!present.includes(k)) process.stderr.write(`myelin: ${lib.what} not installed (Debian/Ubuntu: ${lib.install}); ${lib.addon} (distributed backend '${k}') is not built\n`);
    }
  }
  if (present.length === 0) return optional ? 0 : 1;
  const { nodeGypCommand, nodedir } = require('./node-gyp');
  const [cmd, ...pre] = nodeGypCommand();
  const headers = nodedir();
  const args = [...pre, 'rebuild', ...(headers !== null && !process.env.npm_config_nodedir ? [`--nodedir=${headers}`] : [])];
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, [`$ ${[cmd, ...args].join(' ')}`, r.stdout || '', r.stderr || '', r.error ? String(r.error) : ''].join('\n'));
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status}`;
    process.stderr.write(`myelin: building the collectives addons (${present.join(', ')}) failed (${why}; log: ${logFile}); distributed training is unavailable, the rest of myelin is unaffected\n`);
    return optional ? 0 : 1;
  }
  return 0;
}

process.exit(main());
