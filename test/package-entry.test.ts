// The built package loads through `require` and through `import` (one shared instance) and exposes types.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDist, ROOT } from './helpers/dist';

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env } }).trim();
}

describe('package entry points', () => {
  beforeAll(() => {
    ensureDist();
    // ensureDist compiles TypeScript; the ES-module facade is generated from the compiled CommonJS.
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-esm.js')], { cwd: ROOT });
  }, 300_000);

  it('require("myelin") gives the API and a working backend', () => {
    const out = run(['-e', "const m = require('myelin'); const t = m.tensor([[1,2],[3,4]]); console.log(JSON.stringify([typeof m.fit, typeof m.nn.Sequential, t.matmul(t).toArray(), m.info().backend]))"]);
    const [fit, seq, prod, backend] = JSON.parse(out);
    expect(fit).toBe('function');
    expect(seq).toBe('function');
    expect(prod).toEqual([[7, 10], [15, 22]]);
    expect(['native', 'js']).toContain(backend);
  });

  it('import from "myelin" gives the same instance as require', () => {
    const out = run(['--input-type=module', '-e',
      "import * as m from 'myelin'; import def from 'myelin'; import { createRequire } from 'node:module';" +
      "const req = createRequire(process.cwd() + '/x.js'); const c = req('myelin');" +
      "console.log(JSON.stringify([typeof m.fit, m.tensor === c.tensor, def === c, m.nn === c.nn]))"]);
    expect(JSON.parse(out)).toEqual(['function', true, true, true]);
  });

  it('every value export of the CommonJS build is re-exported by the ES module facade', () => {
    const esm = JSON.parse(run(['--input-type=module', '-e', "import * as m from 'myelin'; console.log(JSON.stringify(Object.keys(m)))"])) as string[];
    const cjs = JSON.parse(run(['-e', "console.log(JSON.stringify(Object.keys(require('myelin'))))"])) as string[];
    expect(cjs.length).toBeGreaterThan(20);
    for (const name of cjs) expect(esm, name).toContain(name);
  });

  it('ships type declarations for the public API', () => {
    const dts = fs.readFileSync(path.join(ROOT, 'dist', 'index.d.ts'), 'utf8');
    for (const name of ['fit', 'nn', 'optim', 'Tensor', 'info', 'onnx', 'save', 'load']) expect(dts).toContain(name);
  });
});
