// Installing myelin: the install script never fails (one line and the pure-TS backend when it cannot compile),
// the load-failure message names a fix an installed-package user can run, `bench` is hidden without bench/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { describeLoadFailure, nativeFix } from '../lib/backend/native';
import { buildProgram } from '../lib/cli/main';
import { benchScript, runBench } from '../lib/cli/bench';

const ROOT = path.join(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { hideCompilers } = require('../scripts/hide-compilers.js') as { hideCompilers(dir: string): string };

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-install-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A copy of what the package ships for building (binding.gyp, native/, the install scripts) plus its build deps. */
function packageCopy(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.copyFileSync(path.join(ROOT, 'binding.gyp'), path.join(dir, 'binding.gyp'));
  for (const f of ['install.js', 'node-gyp.js']) fs.copyFileSync(path.join(ROOT, 'scripts', f), path.join(dir, 'scripts', f));
  fs.cpSync(path.join(ROOT, 'native'), path.join(dir, 'native'), { recursive: true });
  for (const dep of ['node-gyp-build', 'node-addon-api']) {
    fs.cpSync(path.join(ROOT, 'node_modules', dep), path.join(dir, 'node_modules', dep), { recursive: true });
  }
  return dir;
}

function runInstall(dir: string, env: Record<string, string>): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [path.join(dir, 'scripts', 'install.js')], {
    cwd: dir, encoding: 'utf8', env: { HOME: os.homedir(), ...env }, timeout: 300_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('scripts/install.js', () => {
  it('with no compiler and no prebuild: exits 0 and prints one line naming the fallback and the fix', () => {
    const dir = packageCopy('nocc');
    const noCompilers = hideCompilers(path.join(tmp, 'bin-nocc'));
    const r = runInstall(dir, { PATH: noCompilers });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^myelin: no prebuilt native addon for ${process.platform}-${process.arch} loads here and compiling it failed: no C\\+\\+ compiler found`));
    expect(lines[0]).toMatch(/myelin will run on its pure-TypeScript backend/);
    expect(lines[0]).toMatch(/npm rebuild myelin/);
    const log = path.join(dir, 'build', 'myelin-install.log');
    expect(lines[0]).toContain(log);
    expect(fs.readFileSync(log, 'utf8')).toMatch(/node-gyp/);
  });

  it('without node-addon-api (an optional peer: the prebuilds need no headers) and no prebuild: exits 0, one line naming it', () => {
    const dir = packageCopy('noaddonapi');
    fs.rmSync(path.join(dir, 'node_modules', 'node-addon-api'), { recursive: true, force: true });
    const r = runInstall(dir, { PATH: process.env.PATH ?? '/usr/bin:/bin' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^myelin: no prebuilt native addon for ${process.platform}-${process.arch} loads here and compiling it needs node-addon-api, which is not installed \\(\`npm install node-addon-api\`\\)`));
    expect(lines[0]).toMatch(/myelin will run on its pure-TypeScript backend/);
    expect(fs.existsSync(path.join(dir, 'build', 'Release'))).toBe(false);
    const log = path.join(dir, 'build', 'myelin-install.log');
    expect(lines[0]).toContain(log);
    expect(fs.readFileSync(log, 'utf8')).toMatch(/node-gyp was not run: compiling it needs node-addon-api/);
  });

  // The addon this checkout loads (build/Release or its prebuild), used as the package's prebuild.
  const builtAddon = ((): string | null => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return (require('node-gyp-build') as { resolve(dir: string): string }).resolve(ROOT);
    } catch {
      return null;
    }
  })();
  const platform = `${process.platform}-${process.arch}`;

  it.runIf(builtAddon !== null)('with a prebuild that loads: does nothing and prints nothing (no compiler needed)', () => {
      const dir = packageCopy('prebuilt');
      fs.mkdirSync(path.join(dir, 'prebuilds', platform), { recursive: true });
      fs.copyFileSync(builtAddon!, path.join(dir, 'prebuilds', platform, 'myelin.node'));
      const r = runInstall(dir, { PATH: hideCompilers(path.join(tmp, 'bin-nocc2')) });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr + r.stdout).toBe('');
      expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
    });

  it.runIf(builtAddon !== null)('in a source checkout: compiles even when a prebuild loads (a stale prebuilds/ never wins)', () => {
    const dir = packageCopy('checkout');
    fs.mkdirSync(path.join(dir, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'lib', 'index.ts'), '');
    fs.mkdirSync(path.join(dir, 'prebuilds', platform), { recursive: true });
    const prebuild = path.join(dir, 'prebuilds', platform, 'myelin.node');
    fs.copyFileSync(builtAddon!, prebuild);
    const r = runInstall(dir, { PATH: hideCompilers(path.join(tmp, 'bin-nocc3')) });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^myelin: in a source checkout the native addon is compiled and compiling it failed: no C\+\+ compiler found/);
    expect(lines[0]).toContain(`myelin will use the existing ${prebuild}, which may be older than the sources`);
    expect(fs.existsSync(path.join(dir, 'build', 'myelin-install.log'))).toBe(true);
  });
});

describe('native load failure message', () => {
  it('in an installed package the fix is `npm rebuild myelin` with a compiler and node-addon-api, not a repo-only script', () => {
    const installed = path.join(tmp, 'app', 'node_modules', 'myelin');
    const fix = nativeFix(installed);
    expect(fix).toMatch(/apt-get install g\+\+ make python3\) and node-addon-api \(`npm install node-addon-api`\), then run `npm rebuild myelin`/);
    expect(fix).toMatch(/MYELIN_BACKEND=js/);
    expect(fix).not.toMatch(/build:native/);
    expect(nativeFix(ROOT)).toMatch(/npm run build:native/);
  });

  it('names the platform, where it looked, and the install log when the install-time compile failed', () => {
    const installed = path.join(tmp, 'app2', 'node_modules', 'myelin');
    fs.mkdirSync(path.join(installed, 'build'), { recursive: true });
    const why = 'No native build was found for platform=linux arch=x64 runtime=node abi=115 uv=1 libc=glibc node=20.20.2';
    const before = describeLoadFailure(installed, null, why);
    expect(before).toMatch(new RegExp(`^no native addon for ${process.platform}-${process.arch} in `));
    expect(before).not.toMatch(/install log|myelin-install\.log/);
    expect(before).toMatch(/npm rebuild myelin/);
    fs.writeFileSync(path.join(installed, 'build', 'myelin-install.log'), 'gyp ERR! not ok\n');
    const after = describeLoadFailure(installed, null, why);
    expect(after).toContain(`compiling it at install failed (log: ${path.join(installed, 'build', 'myelin-install.log')})`);
    expect(after).not.toContain('\n');
  });
});

describe('myelin bench outside the source tree', () => {
  it('is listed in a clone (bench/run.js exists) and hidden where bench/ is absent', async () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'pkg-'));
    const helpOf = (root: string): string => buildProgram(() => undefined, root).helpInformation();
    expect(benchScript(empty)).toBeNull();
    expect(helpOf(empty)).not.toMatch(/^\s+bench\b/m);
    expect(helpOf(empty)).toMatch(/^\s+info\b/m);
    if (benchScript(ROOT) !== null) expect(helpOf(ROOT)).toMatch(/^\s+bench\b/m);
    await expect(runBench([], empty)).rejects.toThrow(/not part of the installed package.*npm run bench/);
  });
});
