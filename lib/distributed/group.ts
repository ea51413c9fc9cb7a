// distributed.init(): joins the process group (rank, world size, rendezvous) over Gloo, with defaults
// from the usual environment variables; the group's collectives on Float32Arrays.
import * as os from 'os';
import * as path from 'path';
import { loadGloo, type GlooBinding } from './native';
import { checkOptions } from '../validate';
import { explainJoinFailure } from './rendezvous';

/** The collectives library: 'gloo' (built in when libgloo-dev is installed); 'mpi' is refused with the reason. */
export type DistributedBackend = 'gloo' | 'mpi';

/** Options of distributed.init(); each defaults to the usual environment variables. */
export interface InitOptions {
  /** 'gloo' (default). 'mpi' is refused with the reason: myelin's collectives run over Gloo, which mpirun can launch. */
  backend?: DistributedBackend;
  /** This process's rank, 0..worldSize-1. Default: RANK, else OMPI_COMM_WORLD_RANK / PMI_RANK (mpirun). */
  rank?: number;
  /** Number of processes. Default: WORLD_SIZE, else OMPI_COMM_WORLD_SIZE / PMI_SIZE. */
  worldSize?: number;
  /**
   * Where the ranks meet: a directory every rank can read and write (Gloo's file store; a fresh one per
   * run, or a distinct runId), or redis://host:port (Gloo's Redis store). Default: MYELIN_RENDEZVOUS, else
   * redis://MASTER_ADDR:MASTER_PORT when MASTER_ADDR is set. Not needed when worldSize is 1.
   */
  rendezvous?: string;
  /** Key prefix of this run in the store. Default MYELIN_RUN_ID, else 'myelin'. */
  runId?: string;
  /** A collective that waits longer than this fails, naming the rank(s) lost. Default 60000 ms. */
  timeoutMs?: number;
  /** Address the other ranks reach this one at. Default: GLOO_SOCKET_IFNAME's interface when set; else this machine's hostname with a Redis rendezvous, 127.0.0.1 with a directory (one machine). */
  hostname?: string;
  /** Network interface to bind (as PyTorch's GLOO_SOCKET_IFNAME). */
  iface?: string;
}

const INIT_OPTIONS = ['backend', 'rank', 'worldSize', 'rendezvous', 'runId', 'timeoutMs', 'hostname', 'iface'] as const satisfies readonly (keyof InitOptions)[];

/** A joined process group. Collectives work in place on Float32Arrays and must be called in the same order on every rank. */
export interface ProcessGroup {
  readonly backend: 'gloo' | 'local';
  readonly rank: number;
  readonly worldSize: number;
  /** Sums a over every rank, in place (op 'mean' divides by worldSize). Returns a. */
  allreduce(a: Float32Array, op?: 'sum' | 'mean'): Float32Array;
  /** Copies root's a into every rank's a. Returns a. */
  broadcast(a: Float32Array, root?: number): Float32Array;
  /** Returns once every rank has called it. */
  barrier(): void;
  /** Starts an in-place sum of a on the communication thread; a stays untouched until wait(). */
  start(a: Float32Array): void;
  /** Blocks until every started sum is done; throws the first failure (naming the lost ranks). */
  wait(): void;
}

let current: ProcessGroup | null = null;
let binding: GlooBinding | null = null;

function envInt(names: string[]): { value: number; name: string } | null {
  for (const name of names) {
    const v = process.env[name];
    if (v !== undefined && v.trim() !== '') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`distributed.init: ${name}=${JSON.stringify(v)} is not a non-negative integer`);
      return { value: n, name };
    }
  }
  return null;
}

/** The rendezvous as Gloo's store options, or an Error naming what is wrong. */
function storeOf(rendezvous: string): { store: 'file' | 'redis'; path?: string; host?: string; port?: number } {
  const redis = /^redis:\/\/([^:/]+)(?::(\d+))?\/?$/.exec(rendezvous);
  if (redis !== null) return { store: 'redis', host: redis[1], port: redis[2] !== undefined ? Number(redis[2]) : 6379 };
  if (/^[a-z]+:\/\//.test(rendezvous) && !rendezvous.startsWith('file://')) {
    throw new Error(`distributed.init: rendezvous ${JSON.stringify(rendezvous)} is neither a directory (or file:///dir) nor redis://host:port`);
  }
  return { store: 'file', path: path.resolve(rendezvous.replace(/^file:\/\//, '')) };
}

/** The options resolved from the arguments and the environment (exported for tests and the launcher). */
export function resolveInit(options: InitOptions = {}): Required<Pick<InitOptions, 'rank' | 'worldSize' | 'runId' | 'timeoutMs'>> & InitOptions {
  const o = checkOptions('distributed.init', options, INIT_OPTIONS);
  const backend = o.backend ?? 'gloo';
  if (backend === 'mpi') {
    throw new Error(
      "distributed.init: backend 'mpi' is not available: myelin's collectives run over Gloo (Debian: libgloo-dev). " +
        "Under mpirun, use backend 'gloo': rank and world size come from OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE, " +
        'and the ranks meet at the rendezvous (a shared directory or redis://host:port)',
    );
  }
  if (backend !== 'gloo') throw new Error(`distributed.init: backend must be 'gloo' or 'mpi', got ${JSON.stringify(backend)}`);
  const rankEnv = envInt(['RANK', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK']);
  const sizeEnv = envInt(['WORLD_SIZE', 'OMPI_COMM_WORLD_SIZE', 'PMI_SIZE']);
  const worldSize = o.worldSize ?? sizeEnv?.value ?? 1;
  const rank = o.rank ?? rankEnv?.value ?? 0;
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new Error(`distributed.init: worldSize must be a positive integer, got ${worldSize}${o.worldSize === undefined && sizeEnv ? ` (from ${sizeEnv.name})` : ''}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new Error(`distributed.init: rank must be an integer in 0..${worldSize - 1} (worldSize ${worldSize}), got ${rank}${o.rank === undefined && rankEnv ? ` (from ${rankEnv.name})` : ''}`);
  }
  const master = process.env.MASTER_ADDR;
  const rendezvous = o.rendezvous ?? process.env.MYELIN_RENDEZVOUS ??
    (master ? `redis://${master}:${process.env.MASTER_PORT ?? 6379}` : undefined);
  const timeoutMs = o.timeoutMs ?? 60000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 2 ** 31 - 1) throw new Error(`distributed.init: timeoutMs must be an integer of at least 100, got ${timeoutMs}`);
  const runId = o.runId ?? process.env.MYELIN_RUN_ID ?? 'myelin';
  const iface = o.iface ?? process.env.GLOO_SOCKET_IFNAME;
  return { ...o, backend, rank, worldSize, rendezvous, runId, timeoutMs, iface };
}

/** A group of one process: every collective is the identity. */
function localGroup(): ProcessGroup {
  return {
    backend: 'local', rank: 0, worldSize: 1,
    allreduce: (a) => a, broadcast: (a) => a, barrier: () => undefined, start: () => undefined, wait: () => undefined,
  };
}

function glooGroup(b: GlooBinding, rank: number, worldSize: number): ProcessGroup {
  const check = (op: string, a: unknown): void => {
    if (!(a instanceof Float32Array)) throw new Error(`distributed.${op}: expected a Float32Array, got ${a === null ? 'null' : typeof a}`);
  };
  return {
    backend: 'gloo', rank, worldSize,
    allreduce(a, op = 'sum') {
      check('allreduce', a);
      if (op !== 'sum' && op !== 'mean') throw new Error(`distributed.allreduce: op must be 'sum' or 'mean', got ${JSON.stringify(op)}`);
      b.allreduce(a);
      if (op === 'mean') for (let i = 0; i < a.length; i++) a[i] /= worldSize;
      return a;
    },
    broadcast(a, root = 0) {
      check('broadcast', a);
      b.broadcast(a, root);
      return a;
    },
    barrier: () => b.barrier(),
    start(a) {
      check('start', a);
      b.start(a);
    },
    wait: () => b.wait(),
  };
}

/**
 * Joins the process group: every rank calls it with the same worldSize and rendezvous, and it returns
 * once all have joined (or throws after timeoutMs). A world of one needs no Gloo. The group is also kept
 * as the current one (fit({ distributed: true }) uses it).
 */
export function init(options: InitOptions = {}): ProcessGroup {
  if (current !== null) throw new Error(`distributed.init: already initialised (rank ${current.rank} of ${current.worldSize}); call distributed.destroy() first`);
  const o = resolveInit(options);
  if (o.worldSize === 1) {
    current = localGroup();
    return current;
  }
  if (o.rendezvous === undefined) {
    throw new Error(
      `distributed.init: worldSize is ${o.worldSize} but no rendezvous: pass rendezvous (a shared directory or redis://host:port), ` +
        'or set MYELIN_RENDEZVOUS or MASTER_ADDR/MASTER_PORT (a Redis server), or start the ranks with `myelin run --nproc N`',
    );
  }
  const store = storeOf(o.rendezvous);
  const b = loadGloo();
  const hostname = o.hostname ?? (o.iface !== undefined ? undefined : store.store === 'redis' ? os.hostname() : '127.0.0.1');
  try {
    b.connect({ rank: o.rank, size: o.worldSize, ...store, prefix: o.runId, hostname, iface: o.iface, timeoutMs: o.timeoutMs });
  } catch (err) {
    const f = { rank: o.rank, worldSize: o.worldSize, runId: o.runId, timeoutMs: o.timeoutMs, rendezvous: o.rendezvous, store };
    throw new Error(explainJoinFailure(f, err instanceof Error ? err.message : String(err)));
  }
  binding = b;
  current = glooGroup(b, o.rank, o.worldSize);
  return current;
}

/** The current group, or null before init() / after destroy(). */
export function group(): ProcessGroup | null {
  return current;
}

/** True between init() and destroy(). */
export function isInitialized(): boolean {
  return current !== null;
}

/** This process's rank (0 without a group). */
export function getRank(): number {
  return current?.rank ?? 0;
}

/** The number of processes (1 without a group). */
export function getWorldSize(): number {
  return current?.worldSize ?? 1;
}

/** Leaves the group (closes the connections); init() may be called again. */
export function destroy(): void {
  binding?.close();
  binding = null;
  current = null;
}
