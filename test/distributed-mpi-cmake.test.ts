// The collectives addons built by cmake-js (CMakeLists.txt, option MYELIN_COLLECTIVES): myelin_mpi.node and
// myelin_gloo.node where their libraries are installed, each working (the MPI one under mpirun); a library
// that is missing is skipped with a message naming its package.
import { describe, it, expect } from 'vitest';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const CMAKE_JS = path.join(ROOT, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const MPI_INSTALLED = spawnSync('mpicc', ['--showme:version'], { encoding: 'utf8' }).status === 0;
const GLOO_INSTALLED = fs.existsSync('/usr/include/gloo/allreduce.h');

let hasCmake = true;
try {
  execFileSync('cmake', ['--version'], { stdio: 'ignore' });
} catch {
  hasCmake = false;
}

describe('cmake-js builds the collectives addons', () => {
  it('a missing Gloo or MPI is skipped with a message naming its package (configure only)', () => {
    expect(hasCmake, 'cmake is needed to check the CMake build').toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-cmake-coll-'));
    try {
      // As cmake-js drives it (CMAKE_JS_VERSION set), with find_package(MPI) disabled and /usr ignored by find_path/find_library.
      const out = execFileSync('cmake', ['-S', ROOT, '-B', dir, '-DCMAKE_JS_VERSION=8.0.0', '-DCMAKE_DISABLE_FIND_PACKAGE_MPI=TRUE', '-DCMAKE_IGNORE_PREFIX_PATH=/usr;/usr/local'], { encoding: 'utf8', stdio: 'pipe' });
      expect(out).toMatch(/myelin: Gloo not found \(Debian\/Ubuntu: apt-get install libgloo-dev\); myelin_gloo\.node \(distributed backend 'gloo'\) is not built/);
      expect(out).toMatch(/myelin: MPI not found \(Debian\/Ubuntu: apt-get install libopenmpi-dev openmpi-bin\); myelin_mpi\.node \(distributed backend 'mpi'\) is not built/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120000);

  it.runIf(MPI_INSTALLED || GLOO_INSTALLED)('builds myelin_mpi.node and myelin_gloo.node that load, link their library, and (MPI) allreduce under mpirun', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-cmake-js-'));
    try {
      const built: Record<string, string> = {};
      for (const [target, installed] of [['myelin_mpi', MPI_INSTALLED], ['myelin_gloo', GLOO_INSTALLED]] as const) {
        if (!installed) continue;
        execFileSync(process.execPath, [CMAKE_JS, 'build', '-T', target, '-O', dir], { cwd: ROOT, stdio: 'pipe' });
        built[target] = path.join(dir, 'Release', `${target}.node`);
        expect(fs.existsSync(built[target]), target).toBe(true);
      }
      if (GLOO_INSTALLED) {
        expect(spawnSync('ldd', [built.myelin_gloo], { encoding: 'utf8' }).stdout).toMatch(/libgloo\.so/);
        const r = spawnSync(process.execPath, ['-e', `console.log(typeof require(${JSON.stringify(built.myelin_gloo)}).glooVersion)`], { encoding: 'utf8' });
        expect(r.stdout.trim()).toBe('number');
      }
      if (MPI_INSTALLED) {
        expect(spawnSync('ldd', [built.myelin_mpi], { encoding: 'utf8' }).stdout).toMatch(/libmpi\.so/);
        // The addon on its own (no exit hook: MPI_Finalize runs from its atexit fallback).
        const script = `const b = require(${JSON.stringify(built.myelin_mpi)}); const { rank, size } = b.connect({ timeoutMs: 20000 });
          const a = Float32Array.of(rank + 1, 2); b.allreduce(a); console.log(JSON.stringify({ rank, size, a: Array.from(a), v: b.mpiVersion }));`;
        const r = spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', '2', process.execPath, '-e', script], { encoding: 'utf8', timeout: 60000 });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { rank: number; size: number; a: number[]; v: string });
        expect(rows.map((o) => o.rank).sort()).toEqual([0, 1]);
        for (const o of rows) expect(o).toMatchObject({ size: 2, a: [3, 4], v: expect.stringMatching(/MPI/) });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300000);
});
