// What the built package loads is installed with it: every module that dist/ requires or imports (JavaScript and
// declarations) is a Node built-in, a file of the package, or one of package.json's dependencies / peer
// dependencies. A devDependency reached from dist/ works in the repository and fails in an application
// (protobufjs, a devDependency since its minimal runtime is bundled into dist/io/onnx/proto/ by scripts/gen-onnx.js).
import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';
import { ensureDist, ROOT } from './helpers/dist';

const SPECIFIER = /(?:\brequire\s*\(\s*|\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"\s$]+)\1/g;

/** The package a bare module specifier names ('a/b' -> 'a', '@s/a/b' -> '@s/a'), or null for a relative one. */
function packageOf(spec: string): string | null {
  if (spec.startsWith('.') || spec.startsWith('/')) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Bare specifiers in the .js/.mjs/.d.ts files under dir, each with the first file naming it. */
function bareSpecifiers(dir: string, found = new Map<string, string>()): Map<string, string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) bareSpecifiers(p, found);
    else if (/\.(m?js|d\.ts)$/.test(e.name)) {
      for (const m of fs.readFileSync(p, 'utf8').matchAll(SPECIFIER)) {
        const pkg = packageOf(m[2]);
        if (pkg !== null && !found.has(pkg)) found.set(pkg, path.relative(ROOT, p));
      }
    }
  }
  return found;
}

describe('the modules dist/ loads', () => {
  beforeAll(() => ensureDist(), 300_000);

  it('are Node built-ins, package files, dependencies or peer dependencies (never a devDependency)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    const allowed = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
    const found = bareSpecifiers(path.join(ROOT, 'dist'));
    const stray = [...found].filter(([name]) => !builtinModules.includes(name.replace(/^node:/, '')) && !allowed.has(name))
      .map(([name, file]) => `${name} (${file})`);
    expect(stray).toEqual([]);
    // The scan sees what it should: the CLI's commander and the ONNX runtime's long.
    expect(found.get('commander')).toBeDefined();
    expect(found.get('long')).toMatch(/io[\\/]onnx[\\/]proto/);
    expect(found.has('protobufjs')).toBe(false);
  }, 120_000);

  it('the scan finds require, import and import() specifiers, scoped or not', () => {
    const text = "require('a/b'); import x from \"@s/c/d\"; import('e'); import 'f'; require('./g');";
    expect([...text.matchAll(SPECIFIER)].map((m) => packageOf(m[2]))).toEqual(['a', '@s/c', 'e', 'f', null]);
  });
});
