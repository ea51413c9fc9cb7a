// The API reference (TypeDoc, `npm run docs`) documents every public export: each export of the package
// entry (lib/index.ts, compiled to the "exports" entry dist/index.*), and each member of the namespaces it
// re-exports (nn.Linear, data.readCsv, ...), must carry a doc comment. Checked with the TypeScript compiler
// API, so it runs offline and in seconds.
import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '..');

interface ExportDoc { name: string; documented: boolean; file: string }

/** Every export reachable from `entry` (namespaces re-exported with `export * as` expanded as ns.member). */
function exportDocs(entry: string, options: ts.CompilerOptions): ExportDoc[] {
  const program = ts.createProgram([entry], options);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (!source) throw new Error(`no source file ${entry}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`${entry} is not a module`);
  const out: ExportDoc[] = [];
  const seen = new Set<ts.Symbol>();
  const documented = (s: ts.Symbol): boolean =>
    s.getDocumentationComment(checker).length > 0 || (s.declarations ?? []).some((d) => ts.getJSDocCommentsAndTags(d).length > 0);
  const walk = (mod: ts.Symbol, prefix: string): void => {
    for (const s of checker.getExportsOfModule(mod)) {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      const decl = target.declarations?.[0];
      if (decl && ts.isSourceFile(decl)) {
        // `export * as nn from './nn'`: the namespace's members are public exports too.
        if (!seen.has(target)) {
          seen.add(target);
          walk(target, `${prefix}${s.getName()}.`);
        }
        continue;
      }
      out.push({ name: prefix + s.getName(), documented: documented(target), file: decl ? path.relative(root, decl.getSourceFile().fileName) : '?' });
    }
  };
  walk(moduleSymbol, '');
  return out;
}

function compilerOptions(): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(String(d.messageText)); },
  });
  if (!parsed) throw new Error('cannot read tsconfig.json');
  return { ...parsed.options, noEmit: true };
}

describe('API reference', () => {
  it('typedoc.json documents the package entry into docs/api, which git ignores', () => {
    const config = JSON.parse(fs.readFileSync(path.join(root, 'typedoc.json'), 'utf8'));
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(config.entryPoints).toEqual(['lib/index.ts']);
    expect(pkg.exports['.'].types).toBe('./dist/index.d.ts'); // lib/index.ts compiled
    expect(config.out).toBe('docs/api');
    expect(pkg.scripts.docs).toBe('typedoc');
    expect(pkg.devDependencies.typedoc).toBeDefined();
    expect(fs.readFileSync(path.join(root, '.gitignore'), 'utf8').split('\n')).toContain('docs/api/');
  });

  it('every public export has a doc comment', () => {
    const docs = exportDocs(path.join(root, 'lib', 'index.ts'), compilerOptions());
    // The walk reaches the top level and the namespaces (so an empty list cannot pass this test).
    const names = new Set(docs.map((d) => d.name));
    for (const n of ['fit', 'historyToCsv', 'Tensor', 'nn.Linear', 'nn.Sequential', 'data.loadDigits', 'optim.Adam', 'onnx.exportModel', 'serve.predict']) {
      expect(names.has(n), n).toBe(true);
    }
    expect(docs.length).toBeGreaterThan(300);
    const missing = docs.filter((d) => !d.documented).map((d) => `${d.name} (${d.file})`);
    expect(missing, `public exports without a doc comment:\n${missing.join('\n')}`).toEqual([]);
  }, 120_000);

  it('the check finds an undocumented export, also inside a namespace', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-api-docs-'));
    fs.writeFileSync(path.join(dir, 'inner.ts'), '/** Documented. */\nexport const a = 1;\nexport function b(): void {}\n');
    fs.writeFileSync(path.join(dir, 'index.ts'), "export * as inner from './inner';\n/** Documented. */\nexport class C {}\nexport interface D { x: number }\n");
    const docs = exportDocs(path.join(dir, 'index.ts'), { strict: true, noEmit: true });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(docs.filter((d) => !d.documented).map((d) => d.name).sort()).toEqual(['D', 'inner.b']);
    expect(docs.filter((d) => d.documented).map((d) => d.name).sort()).toEqual(['C', 'inner.a']);
  });
});
