// Data-parallel training over MPI (backend 'mpi', native/collectives/mpi.cc): the ranks mpirun starts
// train the MLP to the weights of one process with the combined batch and to Gloo's; the collectives and
// a second init in one process; a rank that dies or hangs ends the job with its name; the errors outside
// mpirun and without Open MPI.
import { describe, it, expect, afterEach } from 'vitest';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { destroy, init } from '../lib/distributed/group';
import { addonPath, loadFailure, loadMpi } from '../lib/distributed/native';
import { runRanks, weightsOf, maxDiff } from './helpers/distributed-ranks';

const ROOT = path.join(__dirname, '..');
const ADDON = addonPath('mpi');
/** mpicc on PATH: the install script then builds myelin_mpi.node (CI installs libopenmpi-dev openmpi-bin). */
const MPI_INSTALLED = spawnSync('mpicc', ['--showme:version'], { encoding: 'utf8' }).status === 0;
const GLOO_INSTALLED = fs.existsSync('/usr/include/gloo/allreduce.h');
const LAUNCHER_VARS = ['OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_RANK', 'PMI_SIZE', 'PMIX_RANK'];

afterEach(() => destroy());

describe('backend mpi: errors', () => {
  it('a process mpirun did not start is refused with the command to use (or, without Open MPI, the package)', () => {
    const saved = LAUNCHER_VARS.map((k) => [k, process.env[k]] as const);
    try {
      for (const k of LAUNCHER_VARS) delete process.env[k];
      expect(() => init({ backend: 'mpi' })).toThrow(MPI_INSTALLED
        ? /backend 'mpi' needs a process started by mpirun \(none of OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK is set\): run `mpirun -np N node script\.js`/
        : /libopenmpi-dev openmpi-bin \(apt-get install libopenmpi-dev openmpi-bin\)/);
    } finally {
      for (const [k, v] of saved) if (v !== undefined) process.env[k] = v;
    }
  });

  it('a missing addon names the packages (no Open MPI) or the build command (Open MPI installed)', () => {
    const msg = (() => { try { loadMpi('/nonexistent/myelin_mpi.node'); return ''; } catch (e) { return (e as Error).message; } })();
    expect(msg).toMatch(MPI_INSTALLED
      ? /MPI collectives addon is not built \(\/nonexistent\/myelin_mpi\.node is missing\)\. MPI is installed; build the addon with `node .*build-collectives\.js`/
      : /needs the Debian\/Ubuntu packages libopenmpi-dev openmpi-bin \(apt-get install libopenmpi-dev openmpi-bin\)/);
  });

  it('an addon whose libmpi does not load names the packages to install', () => {
    // The mapping from the loader's error to the message...
    expect(loadFailure('mpi', '/x/myelin_mpi.node', 'libmpi.so.40: cannot open shared object file: No such file or directory'))
      .toMatch(/does not load \(libmpi\.so\.40: cannot open.*\)\. A shared library it needs is missing: install the Debian\/Ubuntu packages libopenmpi-dev openmpi-bin/);
    expect(loadFailure('mpi', '/x/myelin_mpi.node', 'invalid ELF header')).toMatch(/Rebuild it with `node .*build-collectives\.js`/);
  });

  it.runIf(MPI_INSTALLED)('...and through the real loader: a libmpi.so.40 that is not a library (found first on LD_LIBRARY_PATH)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-nompi-'));
    try {
      fs.writeFileSync(path.join(dir, 'libmpi.so.40'), 'not a shared library');
      const r = spawnSync(process.execPath, ['-e', `
        try { require(${JSON.stringify(path.join(ROOT, 'dist', 'distributed', 'native.js'))}).loadMpi(); console.log('loaded'); }
        catch (e) { console.log(e.message); }`], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: dir } });
      expect(r.stdout).toMatch(/the MPI collectives addon .*myelin_mpi\.node does not load \(.*libmpi\.so\.40.*\)\. A shared library it needs is missing: install the Debian\/Ubuntu packages libopenmpi-dev openmpi-bin/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// CI installs libopenmpi-dev and openmpi-bin and `npm install` builds the addon, so there these always
// run; on a machine without Open MPI, the tests above check the errors instead.
describe.runIf(MPI_INSTALLED)('training over MPI (mpirun -np 2 and -np 3 on this machine)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-mpi-test-'));

  it('the MPI addon is built where Open MPI is installed, and links libmpi', () => {
    expect(fs.existsSync(ADDON)).toBe(true);
    expect(spawnSync('ldd', [ADDON], { encoding: 'utf8' }).stdout).toMatch(/libmpi\.so/);
  });

  it('allreduce (sum, mean, 4 MB started and waited), broadcast, barrier; destroy then init again in one process; a worldSize mpirun did not start is refused', () => {
    const r = spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', '3', process.execPath, path.join(ROOT, 'test', 'helpers', 'distributed-mpi-child.js')], { encoding: 'utf8', timeout: 120000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).sort((a, b) => Number(a.rank) - Number(b.rank));
    expect(out.map((o) => o.rank)).toEqual([0, 1, 2]);
    for (const o of out) {
      expect(o).toMatchObject({ backend: 'mpi', worldSize: 3, sum: [6, 30, 1.5], mean: [1], bigOk: true, big: 6, bc: [2, 2], sum2: [3], rank2: o.rank });
      expect(o.mismatch).toMatch(new RegExp(`takes rank and world size from mpirun \\(MPI_Comm_rank ${o.rank}, MPI_Comm_size 3\\), but worldSize 4 was asked for`));
    }
  }, 120000);

  it('-np 2 and -np 3 train the MLP to the weights of one process with the combined batch (1e-5), and to Gloo\'s; only rank 0 logs', () => {
    // One process, batch 24; 2 processes x 12; 3 processes x 8 (203 rows: ragged shards and last batch).
    expect(runRanks(1, [path.join(dir, 'one-RANK.json'), '24', '3']).status).toBe(0);
    const one = weightsOf(path.join(dir, 'one-0.json'));
    for (const [n, bs] of [[2, 12], [3, 8]]) {
      const r = runRanks(n, [path.join(dir, `mpi${n}-RANK.json`), String(bs), '3'], { TEST_VERBOSE: '2' }, 'mpi');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect((r.stdout.match(/^Epoch \d+\/3/gm) ?? []).length).toBe(3);
      const rank0 = weightsOf(path.join(dir, `mpi${n}-0.json`));
      expect(maxDiff(one, rank0)).toBeLessThan(1e-5);
      for (let k = 1; k < n; k++) expect(maxDiff(rank0, weightsOf(path.join(dir, `mpi${n}-${k}.json`)))).toBe(0);
      if (GLOO_INSTALLED) {
        expect(runRanks(n, [path.join(dir, `gloo${n}-RANK.json`), String(bs), '3']).status).toBe(0);
        expect(maxDiff(weightsOf(path.join(dir, `gloo${n}-0.json`)), rank0)).toBeLessThan(1e-6);
      }
    }
  }, 180000);

  // A rank that dies: Open MPI's mpirun sees it exit (or be killed) and stops the others at once, naming
  // it; the survivors never reach their collective timeout (20 s here).
  it('a rank that exits with an error ends the job within seconds: mpirun names it and returns its exit code', () => {
    const r = runRanks(3, [path.join(dir, 'dead-RANK.json'), '8', '2', '4'], { TEST_TIMEOUT_MS: '20000' }, 'mpi');
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/mpirun detected that one or more processes exited with non-zero status[\s\S]*The first process to do so was:\s+Process name: \[\[\d+,\d+\],2\]\s+Exit code:\s+7/);
    // Not the survivors' 20 s collective timeout: mpirun stopped them (the bound leaves room for starting
    // 3 Node processes on a loaded machine; unloaded the whole job takes about 4 s).
    expect(r.stderr).not.toMatch(/timed out/);
    expect(r.seconds).toBeLessThan(60);
  }, 120000);

  it('a rank killed by a signal ends the job within seconds: mpirun names it and the signal', () => {
    const r = runRanks(3, [path.join(dir, 'killed-RANK.json'), '8', '2', '4', 'kill'], { TEST_TIMEOUT_MS: '20000' }, 'mpi');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/mpirun noticed that process rank 2 with PID \d+ on node \S+ exited on signal 9 \(Killed\)/);
    expect(r.stderr).not.toMatch(/timed out/);
    expect(r.seconds).toBeLessThan(60);
  }, 120000);

  it('a rank that is stuck makes the others time out after the stated timeout; mpirun then stops it', () => {
    const r = runRanks(2, [path.join(dir, 'stuck-RANK.json'), '12', '2', '3', 'hang'], { TEST_TIMEOUT_MS: '2000' }, 'mpi');
    expect(r.stderr).toMatch(/rank 0: rank 0 timed out after 2000 ms waiting for the other ranks .*MPI collectives cannot be cancelled/);
    expect(r.stderr).toMatch(/Process name: \[\[\d+,\d+\],0\]\s+Exit code:\s+1/);
    expect(r.status).toBe(1);
    // The hung rank waits 120 s unless mpirun stops it.
    expect(r.seconds).toBeLessThan(90);
  }, 120000);
});
