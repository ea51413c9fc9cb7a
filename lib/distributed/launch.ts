// `myelin run --nproc N script.js`: starts N ranks of a script on this machine (like torchrun), meeting
// at a fresh rendezvous directory; when one fails, the others get a grace period to report, then stop.
import { spawn, type ChildProcess } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** What launch() (`myelin run`) starts: nproc ranks of one script. */
export interface LaunchOptions {
  nproc: number;
  script: string;
  args?: string[];
  /** The rendezvous directory. Default: a fresh one under the system temp directory, removed at the end. */
  rendezvous?: string;
  /** Seconds the other ranks get to stop by themselves after one fails, before SIGTERM. Default 30. */
  graceSeconds?: number;
  /** Where the launcher's own lines go. Default process.stderr. */
  log?: (line: string) => void;
}

/** How one rank ended. */
export interface RankExit {
  rank: number;
  pid: number;
  code: number | null;
  signal: string | null;
}

function describeExit(e: RankExit): string {
  return e.signal !== null ? `killed by ${e.signal}` : `exit code ${e.code}`;
}

/**
 * Runs the ranks and resolves with the launcher's exit code: 0 when every rank exits 0, else the first
 * failed rank's code (1 for a signal). Each rank gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
 * MYELIN_RENDEZVOUS, MYELIN_RUN_ID and, unless set, MYELIN_NUM_THREADS (the cores shared out). SIGINT and
 * SIGTERM are passed on to the ranks; after a rank fails the others get graceSeconds before SIGTERM.
 * @param o nproc (ranks to start, a positive integer), script (the Node script each rank runs), args (its
 * arguments), rendezvous (default a fresh temp directory, removed at the end), graceSeconds (default 30), log
 * (the launcher's own lines; default stderr).
 * @returns a Promise of the exit code.
 * @throws Error (the promise rejects) when nproc is not a positive integer or the script does not exist.
 * @example process.exitCode = await distributed.launch({ nproc: 2, script: 'train.js' });
 */
export async function launch(o: LaunchOptions): Promise<number> {
  if (!Number.isInteger(o.nproc) || o.nproc < 1) throw new Error(`run: --nproc must be a positive integer, got ${o.nproc}`);
  if (!fs.existsSync(o.script)) throw new Error(`run: script ${o.script} does not exist`);
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ownDir = o.rendezvous === undefined;
  const dir = o.rendezvous ?? fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-rdzv-'));
  fs.mkdirSync(dir, { recursive: true });
  const runId = `run-${crypto.randomBytes(6).toString('hex')}`;
  const threads = process.env.MYELIN_NUM_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / o.nproc)));
  const graceMs = (o.graceSeconds ?? 30) * 1000;
  const children: ChildProcess[] = [];
  const exits: RankExit[] = [];
  let firstFailure: RankExit | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  const forward = (sig: NodeJS.Signals): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(sig);
  };
  const onSigint = (): void => forward('SIGINT');
  const onSigterm = (): void => forward('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  try {
    await new Promise<void>((resolve) => {
      for (let rank = 0; rank < o.nproc; rank++) {
        const env = {
          ...process.env, RANK: String(rank), WORLD_SIZE: String(o.nproc), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(o.nproc),
          MYELIN_RENDEZVOUS: dir, MYELIN_RUN_ID: runId, MYELIN_NUM_THREADS: threads,
        };
        const child = spawn(process.execPath, [o.script, ...(o.args ?? [])], { env, stdio: 'inherit' });
        children.push(child);
        child.on('exit', (code, signal) => {
          const e: RankExit = { rank, pid: child.pid ?? -1, code, signal };
          exits.push(e);
          if ((code !== 0 || signal !== null) && firstFailure === null) {
            firstFailure = e;
            log(`myelin run: rank ${rank} (pid ${e.pid}) failed first: ${describeExit(e)}; the other ranks get ${graceMs / 1000} s to stop`);
            killTimer = setTimeout(() => forward('SIGTERM'), graceMs);
          }
          if (exits.length === o.nproc) resolve();
        });
      }
    });
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    if (killTimer !== null) clearTimeout(killTimer);
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
  }
  const failure = firstFailure as RankExit | null;
  if (failure === null) return 0;
  const others = exits.filter((e) => e !== failure && (e.code !== 0 || e.signal !== null)).sort((a, b) => a.rank - b.rank);
  if (others.length > 0) log(`myelin run: then ${others.map((e) => `rank ${e.rank} (${describeExit(e)})`).join(', ')}`);
  return failure.code !== null && failure.code !== 0 ? failure.code : 1;
}
