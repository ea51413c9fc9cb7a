// distributed.init(): joins the process group (rank, world size, rendezvous) over Gloo or MPI, with
// defaults from the usual environment variables; the group's collectives on Float32Arrays.
import * as os from 'os';
import * as path from 'path';
import { loadGloo, type CollectivesBinding } from './native';
import { joinMpi } from './mpi';
import { checkOptions } from '../validate';
import { explainJoinFailure } from './rendezvous';

/** The collectives library: 'gloo' (addon built when libgloo-dev is installed) or 'mpi' (built when libopenmpi-dev is; the processes started by mpirun). */
export type DistributedBackend = 'gloo' | 'mpi';

/** Options of distributed.init(); each defaults to the usual environment variables. */
export interface InitOptions {
  /**
   * 'gloo' (default): the ranks meet at the rendezvous. 'mpi': the processes mpirun started, joined by
   * MPI_Init (rank and worldSize come from MPI; rendezvous, runId, hostname and iface are not used).
   */
  backend?: DistributedBackend;
  /** This process's rank, 0..worldSize-1. Default: RANK, else OMPI_COMM_WORLD_RANK / PMI_RANK (mpirun); with 'mpi', MPI_Comm_rank (given, it must match). */
  rank?: number;
  /** Number of processes. Default: WORLD_SIZE, else OMPI_COMM_WORLD_SIZE / PMI_SIZE; with 'mpi', MPI_Comm_size (given, it must match). */
  worldSize?: number;
  /**
   * Where the ranks meet: a directory every rank can read and write (Gloo's file store; a fresh one per
   * run, or a distinct runId), or redis://host:port (Gloo's Redis store). Default: MYELIN_RENDEZVOUS, else
   * redis://MASTER_ADDR:MASTER_PORT when MASTER_ADDR is set. Not needed when worldSize is 1.
   */
  rendezvous?: string;
  /** Key prefix of this run in the store. Default MYELIN_RUN_ID, else 'myelin'. */
  runId?: string;
  /** A collective that waits longer than this fails, naming the rank(s) lost (with 'mpi': this rank timed out; mpirun then stops the job). Default 60000 ms. */
  timeoutMs?: number;
  /** Address the other ranks reach this one at. Default: GLOO_SOCKET_IFNAME's interface when set; else this machine's hostname with a Redis rendezvous, 127.0.0.1 with a directory (one machine). */
  hostname?: string;
  /** Network interface to bind (as PyTorch's GLOO_SOCKET_IFNAME). */
  iface?: string;
}

const INIT_OPTIONS = ['backend', 'rank', 'worldSize', 'rendezvous', 'runId', 'timeoutMs', 'hostname', 'iface'] as const satisfies readonly (keyof InitOptions)[];

/** A joined process group. Collectives work in place on Float32Arrays and must be called in the same order on every rank. */
export interface ProcessGroup {
  readonly backend: 'gloo' | 'mpi' | 'local';
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
let binding: CollectivesBinding | null = null;

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

/**
 * The options resolved from the arguments and the environment (exported for tests and the launcher).
 * @param options backend, rank, worldSize, rendezvous, runId, timeoutMs, hostname, iface (see InitOptions);
 * each one not given comes from the environment (RANK / OMPI_COMM_WORLD_RANK / PMI_RANK, WORLD_SIZE / ...,
 * MYELIN_RENDEZVOUS or MASTER_ADDR:MASTER_PORT, MYELIN_RUN_ID, GLOO_SOCKET_IFNAME) or its default.
 * @returns the options with backend, rank, worldSize, runId and timeoutMs filled in (rendezvous and iface when known).
 * @throws Error for an unknown option, backend 'mpi' (with how to run under mpirun) or any other than 'gloo', a rank
 * or size variable that is not a non-negative integer, a worldSize that is not a positive integer, a rank outside
 * 0..worldSize-1, or a timeoutMs that is not an integer in [100, 2^31 - 1].
 * @example distributed.resolveInit({ rank: 1, worldSize: 2, rendezvous: '/tmp/rdzv' }).timeoutMs // 60000
 */
export function resolveInit(options: InitOptions = {}): Required<Pick<InitOptions, 'rank' | 'worldSize' | 'runId' | 'timeoutMs'>> & InitOptions {
  const o = checkOptions('distributed.init', options, INIT_OPTIONS);
  const backend = o.backend ?? 'gloo';
  if (backend !== 'gloo' && backend !== 'mpi') throw new Error(`distributed.init: backend must be 'gloo' or 'mpi', got ${JSON.stringify(backend)}`);
  const mpi = backend === 'mpi';
  const rankEnv = envInt(mpi ? ['OMPI_COMM_WORLD_RANK', 'PMI_RANK', 'PMIX_RANK'] : ['RANK', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK']);
  const sizeEnv = envInt(mpi ? ['OMPI_COMM_WORLD_SIZE', 'PMI_SIZE'] : ['WORLD_SIZE', 'OMPI_COMM_WORLD_SIZE', 'PMI_SIZE']);
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

function nativeGroup(backend: 'gloo' | 'mpi', b: CollectivesBinding, rank: number, worldSize: number): ProcessGroup {
  const check = (op: string, a: unknown): void => {
    if (!(a instanceof Float32Array)) throw new Error(`distributed.${op}: expected a Float32Array, got ${a === null ? 'null' : typeof a}`);
  };
  return {
    backend, rank, worldSize,
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
 * once all have joined (or throws after timeoutMs). A world of one needs no Gloo. With backend 'mpi'
 * the group is MPI_COMM_WORLD of the processes mpirun started (MPI is initialised on the first call and
 * finalised at process exit). The group is also kept as the current one (fit({ distributed: true }) uses it).
 * @param options backend ('gloo' or 'mpi'; default 'gloo'), rank, worldSize, rendezvous (a shared directory or
 * redis://host:port; not used by 'mpi'), runId, timeoutMs (default 60000), hostname, iface; see InitOptions
 * for each one's environment variable and default.
 * @returns the joined ProcessGroup (allReduce, broadcast, barrier, ...).
 * @throws Error when a group is already initialised (call destroy() first), as resolveInit checks the options,
 * when worldSize > 1 and no rendezvous is given or set in the environment, when the collectives library cannot
 * be loaded (naming the Debian package), with backend 'mpi' outside mpirun, or when this rank cannot join
 * (timeout, unreachable store).
 * @example
 * ```ts
 * // started by `myelin run --nproc 2 train.js`, or `mpirun -np 2 node train.js` with { backend: 'mpi' }
 * const group = distributed.init();
 * ```
 */
export function init(options: InitOptions = {}): ProcessGroup {
  if (current !== null) throw new Error(`distributed.init: already initialised (rank ${current.rank} of ${current.worldSize}); call distributed.destroy() first`);
  const o = resolveInit(options);
  if (o.backend === 'mpi') {
    const joined = joinMpi({ rank: options.rank, worldSize: options.worldSize, timeoutMs: o.timeoutMs });
    binding = joined.binding;
    current = nativeGroup('mpi', joined.binding, joined.rank, joined.worldSize);
    return current;
  }
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
  current = nativeGroup('gloo', b, o.rank, o.worldSize);
  return current;
}

/**
 * The current group, or null before init() / after destroy().
 * @example distributed.group()?.allReduce(grads)
 */
export function group(): ProcessGroup | null {
  return current;
}

/**
 * True between init() and destroy().
 * @example if (!distributed.isInitialized()) distributed.init();
 */
export function isInitialized(): boolean {
  return current !== null;
}

/**
 * This process's rank (0 without a group).
 * @example if (distributed.getRank() === 0) save(model, 'out');
 */
export function getRank(): number {
  return current?.rank ?? 0;
}

/**
 * The number of processes (1 without a group).
 * @example const perRank = Math.ceil(n / distributed.getWorldSize());
 */
export function getWorldSize(): number {
  return current?.worldSize ?? 1;
}

/**
 * Leaves the group (closes the connections); init() may be called again.
 * @example distributed.destroy(); // at the end of the script, on every rank
 */
export function destroy(): void {
  binding?.close();
  binding = null;
  current = null;
}
