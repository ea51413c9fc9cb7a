// Loads the optional Gloo collectives addon (native/collectives/build/Release/myelin_gloo.node), or says
// which Debian package and which command bring it.
import * as fs from 'fs';
import * as path from 'path';

/** What the collectives addon exports (native/collectives/gloo.cc). */
export interface GlooBinding {
  connect(o: {
    rank: number; size: number; store: 'file' | 'redis'; path?: string; host?: string; port?: number;
    prefix: string; hostname?: string; iface?: string; timeoutMs: number;
  }): void;
  /** Sums a over every rank, in place. */
  allreduce(a: Float32Array): void;
  /** Queues an in-place sum of a on the communication thread; a must stay alive and untouched until wait(). */
  start(a: Float32Array): void;
  /** Blocks until every started collective is done; throws the first failure. */
  wait(): void;
  broadcast(a: Float32Array, root: number): void;
  barrier(): void;
  close(): void;
  glooVersion: number;
}

const ROOT = path.resolve(__dirname, '..', '..');
const ADDON = path.join(ROOT, 'native', 'collectives', 'build', 'Release', 'myelin_gloo.node');
const GLOO_HEADER = '/usr/include/gloo/allreduce.h';

let cached: GlooBinding | null = null;

/** The collectives addon, loaded once; throws naming the package to install when Gloo is absent. */
export function loadGloo(file = ADDON): GlooBinding {
  if (cached !== null && file === ADDON) return cached;
  const build = `node ${path.join(ROOT, 'scripts', 'build-collectives.js')}`;
  if (!fs.existsSync(file)) {
    const headers = fs.existsSync(GLOO_HEADER);
    throw new Error(
      `distributed: the Gloo collectives addon is not built (${file} is missing). ` +
        (headers
          ? `Gloo is installed; build the addon with \`${build}\` (npm install runs it when libgloo-dev is present).`
          : 'It needs the Debian/Ubuntu package libgloo-dev (apt-get install libgloo-dev), then ' +
            `\`${build}\` (or npm rebuild myelin).`),
    );
  }
  let binding: GlooBinding;
  try {
    binding = require(file) as GlooBinding;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const lib = /libgloo|libhiredis|libibverbs/.exec(why);
    throw new Error(
      `distributed: the Gloo collectives addon ${file} does not load (${why}). ` +
        (lib !== null
          ? `A shared library it needs is missing: install the Debian/Ubuntu package libgloo-dev (apt-get install libgloo-dev, which brings libgloo0).`
          : `Rebuild it with \`${build}\`.`),
    );
  }
  if (file === ADDON) cached = binding;
  return binding;
}
