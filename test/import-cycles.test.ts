// lib/ has no import cycle: walks the compiled dist/ (the imports that exist at run time, type-only ones elided) and lists every cycle.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { ensureDist, ROOT } from './helpers/dist';

/** Every .js file under dir, as paths relative to dir. */
function jsFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...jsFiles(dir, r));
    else if (e.name.endsWith('.js')) out.push(r);
  }
  return out;
}

/** The relative modules a compiled file requires (any require, lazy ones too: they hide cycles, not remove them). */
export function importsOf(dist: string, file: string): string[] {
  const src = fs.readFileSync(path.join(dist, file), 'utf8');
  const out = new Set<string>();
  for (const m of src.matchAll(/require\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g)) {
    const base = path.normalize(path.join(path.dirname(file), m[1]));
    const target = [`${base}.js`, path.join(base, 'index.js'), base].find((p) => fs.existsSync(path.join(dist, p)) && p.endsWith('.js'));
    if (target !== undefined) out.add(target);
  }
  return [...out];
}

/** Strongly connected components with more than one file (or a file requiring itself): each is a cycle. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe('import cycles', () => {
  it('the cycle finder finds a planted cycle and passes a DAG', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
    expect(cycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toEqual([]);
  });

  it('lib/ (as compiled to dist/) has no import cycle', () => {
    ensureDist();
    const dist = path.join(ROOT, 'dist');
    const graph = new Map<string, string[]>();
    for (const f of jsFiles(dist)) graph.set(f, importsOf(dist, f));
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get(path.join('nn', 'sequential.js'))).toContain(path.join('nn', 'module.js'));
    // Module keeps parameters, children, modes and state dicts: inference (serve/) builds on it, not the reverse.
    expect(importsOf(dist, path.join('nn', 'module.js')).filter((p) => !p.startsWith('tensor') && !p.startsWith('validate'))).toEqual([]);
    expect(cycles(graph).map((c) => c.join(' <-> '))).toEqual([]);
  }, 600_000);

  it('no cycle, type-only imports counted, runs through nn/, serve/ or train/ (nn/module <-> nn/dense-inference was one)', () => {
    const lib = path.join(ROOT, 'lib');
    const tsFiles = (rel = ''): string[] => fs.readdirSync(path.join(lib, rel), { withFileTypes: true }).flatMap((e) => {
      const r = path.join(rel, e.name);
      return e.isDirectory() ? tsFiles(r) : e.name.endsWith('.ts') ? [r] : [];
    });
    const graph = new Map<string, string[]>();
    for (const f of tsFiles()) {
      const src = fs.readFileSync(path.join(lib, f), 'utf8');
      const out = new Set<string>();
      const specs = src.matchAll(/(?:import|export)[^;]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\s+['"](\.{1,2}\/[^'"]+)['"]|declare module ['"](\.{1,2}\/[^'"]+)['"]/g);
      for (const m of specs) {
        const base = path.normalize(path.join(path.dirname(f), m[1] ?? m[2] ?? m[3]));
        const target = [`${base}.ts`, path.join(base, 'index.ts')].find((p) => fs.existsSync(path.join(lib, p)));
        if (target !== undefined) out.add(target);
      }
      graph.set(f, [...out]);
    }
    expect(graph.get(path.join('nn', 'sequential.ts'))).toContain(path.join('nn', 'module.ts'));
    const mine = cycles(graph).filter((c) => c.some((f) => /^(nn|serve|train)[\\/]/.test(f)));
    expect(mine.map((c) => c.join(' <-> '))).toEqual([]);
  });
});
