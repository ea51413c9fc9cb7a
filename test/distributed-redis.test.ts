// The Redis rendezvous (Gloo's Redis store): ranks that meet through redis://host:port, or through the
// MASTER_ADDR / MASTER_PORT defaults, train as one process with the combined batch; a run's keys are
// cleared so the same defaults work for the next run; an unreachable or silent server, a rank that never
// comes and keys left by an earlier run are Errors naming the address (never a hang).
// Each test file starts its own redis-server (test/helpers/redis.ts): apt-get install redis-server.
import { ensureDist } from './helpers/dist';
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { init, destroy } from '../lib/distributed/group';
import { startRedis, freePort, type TestRedis } from './helpers/redis';
import { weightsOf, maxDiff } from './helpers/distributed-ranks';

const ROOT = path.join(__dirname, '..');
const CHILD = path.join(ROOT, 'test', 'helpers', 'distributed-child.js');
const DIST = path.join(ROOT, 'dist', 'index.js');
const DIST_VARS = ['RANK', 'WORLD_SIZE', 'MYELIN_RENDEZVOUS', 'MYELIN_RUN_ID', 'MASTER_ADDR', 'MASTER_PORT', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'PMI_RANK', 'PMI_SIZE'];

/** The environment without any rank / rendezvous variable of the outer one, plus env. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, MYELIN_NUM_THREADS: '1' };
  for (const k of DIST_VARS) delete e[k];
  return { ...e, ...env };
}

interface RankResult { rank: number; code: number | null; stderr: string }

/** Starts `worldSize` ranks of the child script at once (as separate machines would), each with env(rank). */
function runRanks(worldSize: number, args: string[], env: (rank: number) => Record<string, string>): Promise<RankResult[]> {
  return Promise.all(Array.from({ length: worldSize }, (_, rank) => new Promise<RankResult>((resolve) => {
    const child = spawn(process.execPath, [CHILD, ...args], { env: cleanEnv(env(rank)), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ rank, code, stderr }); });
  })));
}

/** init()'s error message and the seconds it took to fail. */
function joinError(options: Parameters<typeof init>[0]): { message: string; seconds: number } {
  const t0 = performance.now();
  try {
    init(options);
  } catch (err) {
    return { message: (err as Error).message, seconds: (performance.now() - t0) / 1000 };
  }
  destroy();
  throw new Error('init unexpectedly joined');
}

let redis: TestRedis;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-redis-test-'));
let one: number[][];

beforeAll(async () => {
  ensureDist();
  redis = await startRedis();
  const r = await runRanks(1, [path.join(dir, 'one-RANK.json'), '24', '3'], () => ({}));
  expect(r[0].stderr).toBe('');
  one = weightsOf(path.join(dir, 'one-0.json'));
}, 120000);

afterAll(async () => {
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

afterEach(() => destroy());

describe('Redis rendezvous (a redis-server started by the test)', () => {
  it('2 processes meet at redis://127.0.0.1:port and train to the weights of one process with the combined batch (1e-5)', async () => {
    const results = await runRanks(2, [path.join(dir, 'url-RANK.json'), '12', '3'], (rank) => ({
      RANK: String(rank), WORLD_SIZE: '2', MYELIN_RENDEZVOUS: redis.url, MYELIN_RUN_ID: 'url-run', TEST_TIMEOUT_MS: '20000',
    }));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const rank0 = weightsOf(path.join(dir, 'url-0.json'));
    expect(maxDiff(one, rank0)).toBeLessThan(1e-5);
    expect(maxDiff(rank0, weightsOf(path.join(dir, 'url-1.json')))).toBe(0);
    // The run cleared its rendezvous keys once every rank had joined.
    expect(redis.cli('--scan', '--pattern', 'url-run/*').trim()).toBe('');
  }, 120000);

  it('the documented defaults (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; runId myelin) work, twice in a row', async () => {
    for (const attempt of [1, 2]) {
      const results = await runRanks(2, [path.join(dir, `defaults${attempt}-RANK.json`), '12', '3'], (rank) => ({
        RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(redis.port),
      }));
      for (const r of results) {
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
      expect(maxDiff(one, weightsOf(path.join(dir, `defaults${attempt}-0.json`)))).toBeLessThan(1e-5);
      expect(redis.cli('--scan', '--pattern', 'myelin/*').trim()).toBe('');
    }
  }, 120000);

  it('a server that is not there fails at once, naming the address', async () => {
    const port = await freePort();
    const { message, seconds } = joinError({ rank: 0, worldSize: 2, rendezvous: `redis://127.0.0.1:${port}`, timeoutMs: 5000 });
    expect(message).toMatch(new RegExp(`could not join at redis://127\\.0\\.0\\.1:${port} \\(run 'myelin'\\): cannot reach the Redis server at 127\\.0\\.0\\.1:${port} \\(Connection refused; a connection attempt gives up after 2 s\\)\\. Start redis-server there`));
    expect(seconds).toBeLessThan(3);
    const unknown = joinError({ rank: 0, worldSize: 2, rendezvous: 'redis://no-such-host.invalid:6379', timeoutMs: 5000 });
    expect(unknown.message).toMatch(/cannot reach the Redis server at no-such-host\.invalid:6379 \(/);
  });

  it('a server that accepts but never answers fails after timeoutMs, naming the address', async () => {
    // The kernel accepts connections into the backlog, so the silent server needs no turn of the event
    // loop; the rank runs in a child process, killed after 20 s should it hang (as it did before).
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const script = `const m = require(${JSON.stringify(DIST)}); const t = performance.now();
        try { m.distributed.init({ rank: 0, worldSize: 2, rendezvous: 'redis://127.0.0.1:${port}', timeoutMs: 1500 }); }
        catch (e) { console.log(JSON.stringify({ message: e.message, seconds: (performance.now() - t) / 1000 })); }`;
      const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, ['-e', script], { env: cleanEnv({}), stdio: ['ignore', 'pipe', 'inherit'] });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
        const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
        child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout }); });
      });
      expect(r.code).toBe(0);
      const { message, seconds } = JSON.parse(r.stdout) as { message: string; seconds: number };
      expect(message).toMatch(new RegExp(`the Redis server at 127\\.0\\.0\\.1:${port} stopped answering or is not a Redis server \\(no reply within 1500 ms\\)`));
      expect(seconds).toBeGreaterThan(1.4);
      expect(seconds).toBeLessThan(4);
    } finally {
      silent.close();
    }
  }, 30000);

  it('a rank that never comes: the others fail after timeoutMs naming it, and take their keys back', () => {
    const { message, seconds } = joinError({ rank: 0, worldSize: 2, rendezvous: redis.url, runId: 'lonely', timeoutMs: 1000 });
    expect(message).toMatch(/could not join at redis:\/\/127\.0\.0\.1:\d+ \(run 'lonely'\): rank 1 did not join within timeoutMs 1000 ms/);
    // Gloo's Redis store polls in whole seconds: the wait ends 1-2 s after it began.
    expect(seconds).toBeLessThan(4);
    expect(redis.cli('--scan', '--pattern', 'lonely/*').trim()).toBe('');
  });

  it('keys left by an earlier run that died are an Error with the command that clears them; after it the run joins', async () => {
    redis.cli('set', 'stale-run/rank_0', 'left by a killed run');
    const { message } = joinError({ rank: 0, worldSize: 2, rendezvous: redis.url, runId: 'stale-run', timeoutMs: 5000 });
    expect(message).toMatch(/still holds key 'stale-run\/rank_0' of an earlier run with runId 'stale-run'.*Give this run its own runId \(MYELIN_RUN_ID\), or delete the old keys: redis-cli /);
    // The key that was there already is not this rank's to delete.
    expect(redis.cli('get', 'stale-run/rank_0').trim()).toBe('left by a killed run');
    const command = /delete the old keys: (.*)$/.exec(message)?.[1] ?? '';
    expect(spawnSync('sh', ['-c', command], { encoding: 'utf8' }).status).toBe(0);
    const results = await runRanks(2, [path.join(dir, 'stale-RANK.json'), '12', '1'], (rank) => ({
      RANK: String(rank), WORLD_SIZE: '2', MYELIN_RENDEZVOUS: redis.url, MYELIN_RUN_ID: 'stale-run',
    }));
    for (const r of results) expect(r.stderr).toBe('');
  }, 120000);
});
