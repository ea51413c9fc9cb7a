// Loads the optional collectives addons (native/collectives/build/Release/myelin_gloo.node over Gloo,
// myelin_mpi.node over MPI), or says which Debian package and which command bring them.
import * as fs from 'fs';
import * as path from 'path';

/** The collectives both addons export (native/collectives/gloo.cc, mpi.cc): in place on Float32Arrays, in call order. */
export interface CollectivesBinding {
  /** Sums a over every rank, in place. */
  allreduce(a: Float32Array): void;
  /** Queues an in-place sum of a on the communication thread; a must stay alive and untouched until wait(). */
  start(a: Float32Array): void;
  /** Blocks until every started collective is done; throws the first failure. */
  wait(): void;
  broadcast(a: Float32Array, root: number): void;
  barrier(): void;
  close(): void;
}

/** What the Gloo addon exports (native/collectives/gloo.cc). */
export interface GlooBinding extends CollectivesBinding {
  connect(o: {
    rank: number; size: number; store: 'file' | 'redis'; path?: string; host?: string; port?: number;
    prefix: string; hostname?: string; iface?: string; timeoutMs: number;
  }): void;
  glooVersion: number;
}

/** What the MPI addon exports (native/collectives/mpi.cc). */
export interface MpiBinding extends CollectivesBinding {
  /** Initialises MPI on the communication thread (first call) and returns MPI_Comm_rank / MPI_Comm_size. */
  connect(o: { timeoutMs: number }): { rank: number; size: number };
  /** At process exit: MPI_Finalize when exitCode is 0, else leaves MPI unfinalised (mpirun then stops the job). */
  finalize(exitCode: number): void;
  /** MPI_Get_library_version. */
  mpiVersion: string;
}

const ROOT = path.resolve(__dirname, '..', '..');
/** Where the addons are built: by node-gyp (scripts/build-collectives.js), or by cmake-js beside the main addon. */
const BUILDS = [path.join(ROOT, 'native', 'collectives', 'build', 'Release'), path.join(ROOT, 'build', 'Release')];

interface Library {
  /** The name in messages. */
  name: string;
  addon: string;
  /** A file whose presence says the development package is installed. */
  installed: () => boolean;
  /** The Debian packages and the shared libraries the addon needs (a load error naming one means the package is missing). */
  packages: string;
  runtime: RegExp;
}

const LIBRARIES: Record<'gloo' | 'mpi', Library> = {
  gloo: {
    name: 'Gloo', addon: 'myelin_gloo.node', installed: () => fs.existsSync('/usr/include/gloo/allreduce.h'),
    packages: 'libgloo-dev', runtime: /libgloo|libhiredis|libibverbs/,
  },
  mpi: {
    name: 'MPI', addon: 'myelin_mpi.node',
    installed: () => (process.env.PATH ?? '').split(path.delimiter).some((d) => d !== '' && fs.existsSync(path.join(d, 'mpicc'))),
    packages: 'libopenmpi-dev openmpi-bin', runtime: /libmpi|libopen-(pal|rte)|libpmix|libhwloc|libevent/,
  },
};

/** The default path of a collectives addon: node-gyp's build, else cmake-js's (build/Release/), else node-gyp's path (missing). */
export function addonPath(kind: 'gloo' | 'mpi'): string {
  const files = BUILDS.map((d) => path.join(d, LIBRARIES[kind].addon));
  return files.find((f) => fs.existsSync(f)) ?? files[0];
}

/**
 * The message for an addon that does not load: why is the loader's error. A missing shared library of the
 * collective library names the Debian package to install; anything else says to rebuild.
 */
export function loadFailure(kind: 'gloo' | 'mpi', file: string, why: string): string {
  const lib = LIBRARIES[kind];
  const build = `node ${path.join(ROOT, 'scripts', 'build-collectives.js')}`;
  return `distributed: the ${lib.name} collectives addon ${file} does not load (${why}). ` +
    (lib.runtime.test(why)
      ? `A shared library it needs is missing: install the Debian/Ubuntu package${lib.packages.includes(' ') ? 's' : ''} ${lib.packages} (apt-get install ${lib.packages}).`
      : `Rebuild it with \`${build}\`.`);
}

const cached = new Map<string, CollectivesBinding>();

function load<T extends CollectivesBinding>(kind: 'gloo' | 'mpi', file: string): T {
  const hit = cached.get(file);
  if (hit !== undefined) return hit as T;
  const lib = LIBRARIES[kind];
  const build = `node ${path.join(ROOT, 'scripts', 'build-collectives.js')}`;
  if (!fs.existsSync(file)) {
    throw new Error(
      `distributed: the ${lib.name} collectives addon is not built (${file} is missing). ` +
        (lib.installed()
          ? `${lib.name} is installed; build the addon with \`${build}\` (npm install runs it when ${lib.packages} ${lib.packages.includes(' ') ? 'are' : 'is'} present).`
          : `It needs the Debian/Ubuntu package${lib.packages.includes(' ') ? 's' : ''} ${lib.packages} (apt-get install ${lib.packages}), then ` +
            `\`${build}\` (or npm rebuild myelin).`),
    );
  }
  let binding: T;
  try {
    binding = require(file) as T;
  } catch (err) {
    throw new Error(loadFailure(kind, file, err instanceof Error ? err.message : String(err)));
  }
  cached.set(file, binding);
  return binding;
}

/** The Gloo collectives addon, loaded once; throws naming the package to install when Gloo is absent. */
export function loadGloo(file = addonPath('gloo')): GlooBinding {
  return load<GlooBinding>('gloo', file);
}

/** The MPI collectives addon, loaded once; throws naming the packages to install when MPI is absent. */
export function loadMpi(file = addonPath('mpi')): MpiBinding {
  return load<MpiBinding>('mpi', file);
}
