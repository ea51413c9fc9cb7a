// A private redis-server for tests: started on a free port in a temp directory (no system service, nothing
// saved to disk), stopped by stop(). Throws with the package to install when redis-server is missing.
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export interface TestRedis {
  port: number;
  url: string;
  dir: string;
  /** Runs redis-cli against this server; returns its stdout. */
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

/** A TCP port nothing listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

/** Starts redis-server and resolves once it answers PING. */
export async function startRedis(): Promise<TestRedis> {
  if (!which('redis-server') || !which('redis-cli')) {
    throw new Error('redis-server is not installed: the Redis rendezvous tests start their own server (Debian/Ubuntu: apt-get install redis-server)');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  const cli = (...args: string[]): string => {
    const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10000 });
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (code ${child.exitCode}) before answering:\n${log}`);
    const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { encoding: 'utf8', timeout: 5000 });
    if (r.stdout.trim() === 'PONG') break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING within 15 s:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port, url: `redis://127.0.0.1:${port}`, dir, cli,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) { fs.rmSync(dir, { recursive: true, force: true }); resolve(); return; }
      child.once('exit', () => { fs.rmSync(dir, { recursive: true, force: true }); resolve(); });
      child.kill('SIGTERM');
    }),
  };
}
