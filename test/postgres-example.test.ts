// examples/postgres-fit.js against a throwaway PostgreSQL cluster (Debian's postgresql package) started in a temp dir: rows streamed through a cursor into fit.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import { ensureDist, ROOT } from './helpers/dist';

const INSTALL_HINT = 'install it with: apt-get install postgresql (Debian/Ubuntu), then npm install (pg and pg-cursor are devDependencies)';

/** The directory of initdb / pg_ctl: Debian puts them in /usr/lib/postgresql/<version>/bin, off PATH. */
function postgresBin(): string | null {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (fs.existsSync(path.join(base, v, 'bin', 'pg_ctl'))) return path.join(base, v, 'bin');
  const onPath = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' });
  return onPath.status === 0 ? path.dirname(onPath.stdout.trim()) : null;
}

let dir = '';
let bin = '';
/** PostgreSQL refuses to run as root: as root the cluster runs as the postgres user (runuser). */
const asRoot = process.getuid?.() === 0;

/** runuser's path: /usr/sbin is not on CI's PATH (/usr/bin:/bin). */
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((p) => fs.existsSync(p)) ?? 'runuser';

function pg(tool: string, args: string[]): SpawnSyncReturns<string> {
  const cmd = asRoot ? RUNUSER : path.join(bin, tool);
  const argv = asRoot ? ['-u', 'postgres', '--', path.join(bin, tool), ...args] : args;
  return spawnSync(cmd, argv, { encoding: 'utf8', timeout: 120_000 });
}

function check(r: SpawnSyncReturns<string>, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${r.stderr || r.stdout || r.error?.message}`);
}

beforeAll(() => {
  const found = postgresBin();
  if (found === null) throw new Error(`PostgreSQL's server programs (initdb, pg_ctl) are not installed: ${INSTALL_HINT}`);
  for (const mod of ['pg', 'pg-cursor']) {
    if (!fs.existsSync(path.join(ROOT, 'node_modules', mod))) throw new Error(`the npm package ${mod} is missing: ${INSTALL_HINT}`);
  }
  bin = found;
  ensureDist();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-pg-'));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'data'), { mode: 0o700 });
  if (asRoot) {
    const who = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    if (who.status !== 0) throw new Error(`running as root, the cluster needs the postgres user, which does not exist: ${INSTALL_HINT}`);
    const uid = Number(who.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    fs.chownSync(dir, uid, gid);
    fs.chownSync(path.join(dir, 'data'), uid, gid);
  }
  check(pg('initdb', ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'myelin', '--no-sync', '-E', 'UTF8']), 'initdb');
  // Unix socket in the temp dir only (no TCP port to collide with), fsync off: a throwaway cluster.
  check(pg('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'server.log'), '-w', '-t', '60',
    '-o', `-c listen_addresses='' -k ${dir} -c fsync=off -c full_page_writes=off`, 'start']), 'pg_ctl start');
}, 180_000);

afterAll(() => {
  if (dir === '') return;
  if (fs.existsSync(path.join(dir, 'data', 'postmaster.pid'))) pg('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', 'stop']);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('examples/postgres-fit.js', () => {
  it('streams the table through a cursor into fit and learns the rule', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'examples', 'postgres-fit.js'), '--fill', '6000', '--epochs', '4'], {
      cwd: ROOT, encoding: 'utf8', timeout: 240_000,
      env: { ...process.env, PGHOST: dir, PGUSER: 'myelin', PGDATABASE: 'postgres', FORCE_COLOR: '0' },
    });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('table myelin_samples has 6000 rows');
    expect(r.stdout).toMatch(/^Epoch 4\/4 - .*valAccuracy \d\.\d{4}/m);
    const m = /validation accuracy: ([\d.]+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0.9);
  }, 240_000);

  it('a failing query reaches fit as an Error naming it (the cursor is closed, the connection returned)', () => {
    const src = `
      const { Pool } = require('pg'); const Cursor = require('pg-cursor'); const { data, fit, nn } = require('.');
      const pool = new Pool({ max: 1 });
      const ds = data.Dataset.fromGenerator(async function* () {
        const client = await pool.connect(); const cursor = client.query(new Cursor('SELECT no_such_column FROM myelin_samples'));
        try { for (const r of await cursor.read(10)) yield { x: [r.a], y: 0 }; } finally { await cursor.close().catch(() => {}); client.release(); }
      });
      fit(new nn.Linear(1, 2), ds.batch(4), { verbose: 0 }).then(() => { console.log('no error'); process.exit(1); },
        async (e) => { console.log('error: ' + e.message); console.log('idle ' + pool.idleCount + ' total ' + pool.totalCount); await pool.end(); });`;
    const r = spawnSync(process.execPath, ['-e', src], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, PGHOST: dir, PGUSER: 'myelin', PGDATABASE: 'postgres' } });
    expect(r.stdout, r.stderr).toMatch(/error: column "no_such_column" does not exist/);
    expect(r.stdout).toContain('idle 1 total 1');
  }, 60_000);
});
