#!/usr/bin/env node
// Architecture measures of issue 12, re-runnable on any checkout:
//
//   node scripts/arch-metrics.js [repo dir]     (default: this checkout)
//
// Prints: the largest source files in lib/ and native/ (lines), the longest functions (TypeScript
// compiler API for lib/, a brace scan for the C++ in native/), the import cycles among lib/'s modules
// (runtime imports: `import type` and type-only exports do not count), and the pairs `duplicates`
// reports in lib/ and native/binding (when the duplicates tool is on PATH).
'use strict';

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const ts = require('typescript');

const root = path.resolve(process.argv[2] || path.join(__dirname, '..'));
const TOP = 5;

function walk(dir, keep, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, keep, out);
    else if (keep(e.name)) out.push(p);
  }
  return out;
}
const rel = (p) => path.relative(root, p);
const lineCount = (text) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

const tsFiles = walk(path.join(root, 'lib'), (n) => n.endsWith('.ts') && !n.endsWith('.d.ts'));
const cppFiles = walk(path.join(root, 'native'), (n) => /\.(cc|h|inc)$/.test(n));

// ---- largest files ----
function largest(files, label) {
  const rows = files.map((f) => ({ f: rel(f), n: lineCount(fs.readFileSync(f, 'utf8')) })).sort((a, b) => b.n - a.n);
  console.log(`largest source files in ${label} (lines):`);
  for (const r of rows.slice(0, TOP)) console.log(`  ${String(r.n).padStart(5)}  ${r.f}${/\.gen\./.test(r.f) ? '  (generated)' : ''}`);
  return rows[0];
}

// ---- longest functions: TypeScript ----
function tsFunctions() {
  const out = [];
  for (const f of tsFiles) {
    const sf = ts.createSourceFile(f, fs.readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (node, owner) => {
      let name = null;
      if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) {
        name = node.name ? node.name.getText(sf) : '(anonymous)';
      } else if (ts.isConstructorDeclaration(node)) {
        name = 'constructor';
      } else if ((ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && node.parent) {
        const p = node.parent;
        name = ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) ? p.name.getText(sf) : '(closure)';
      }
      if (name !== null && node.body) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const end = sf.getLineAndCharacterOfPosition(node.end).line;
        out.push({ where: `${rel(f)}:${start + 1}`, name: owner ? `${owner}.${name}` : name, lines: end - start + 1 });
      }
      const cls = ts.isClassDeclaration(node) && node.name ? node.name.getText(sf) : owner;
      ts.forEachChild(node, (c) => visit(c, cls));
    };
    visit(sf, null);
  }
  return out.sort((a, b) => b.lines - a.lines);
}

// ---- longest functions: C++ (brace scan: a '{' whose header since the last ';', '{' or '}' holds ')') ----
function cppFunctions() {
  const out = [];
  for (const f of cppFiles) {
    const text = fs.readFileSync(f, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
      .replace(/\/\/[^\n]*/g, '')
      .replace(/"(?:\\.|[^"\\\n])*"/g, '""')
      .replace(/'(?:\\.|[^'\\\n])*'/g, "''")
      .replace(/^\s*#[^\n]*(\\\n[^\n]*)*/gm, (m) => m.replace(/[^\n]/g, ' '));
    const stack = []; // { fn: bool, line, name }
    let header = '';
    let line = 1;
    let headerLine = 1;
    for (const ch of text) {
      if (ch === '\n') line++;
      if (ch === '{') {
        const inFn = stack.some((s) => s.fn);
        const h = header.trim();
        const isFn = !inFn && /\)\s*(const|noexcept|override|final|\s)*$/.test(h) && !/^(if|for|while|switch|catch)\b/.test(h) && !/=\s*\[/.test(h);
        const m = isFn ? /([\w:~]+)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*(const|noexcept|override|final|\s)*$/.exec(h) : null;
        stack.push({ fn: isFn, line: headerLine, name: m ? m[1] : h.slice(0, 40) });
        header = '';
        headerLine = line;
      } else if (ch === '}') {
        const top = stack.pop();
        if (top && top.fn) out.push({ where: `${rel(f)}:${top.line}`, name: top.name, lines: line - top.line + 1 });
        header = '';
        headerLine = line;
      } else if (ch === ';') {
        header = '';
        headerLine = line;
      } else {
        if (header.trim() === '' && !/\s/.test(ch)) headerLine = line;
        header += ch;
      }
    }
  }
  return out.sort((a, b) => b.lines - a.lines);
}

// ---- import cycles among lib/ modules (runtime imports only) ----
function importCycles() {
  const files = new Set(tsFiles.map((f) => path.resolve(f)));
  const resolve = (from, spec) => {
    if (!spec.startsWith('.')) return null;
    const base = path.resolve(path.dirname(from), spec);
    for (const c of [base + '.ts', path.join(base, 'index.ts')]) if (files.has(c)) return c;
    return null;
  };
  const edges = new Map();
  for (const f of files) {
    const sf = ts.createSourceFile(f, fs.readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true);
    const deps = new Set();
    for (const st of sf.statements) {
      let spec = null;
      if (ts.isImportDeclaration(st)) {
        const c = st.importClause;
        const typeOnly = c && (c.isTypeOnly || (!c.name && c.namedBindings && ts.isNamedImports(c.namedBindings) &&
          c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
        if (!typeOnly) spec = st.moduleSpecifier.text;
      } else if (ts.isExportDeclaration(st) && st.moduleSpecifier) {
        const typeOnly = st.isTypeOnly || (st.exportClause && ts.isNamedExports(st.exportClause) &&
          st.exportClause.elements.length > 0 && st.exportClause.elements.every((e) => e.isTypeOnly));
        if (!typeOnly) spec = st.moduleSpecifier.text;
      }
      const to = spec === null ? null : resolve(f, spec);
      if (to) deps.add(to);
    }
    edges.set(f, deps);
  }
  // Tarjan's strongly connected components
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], sccs = [];
  const strong = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of edges.get(v)) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || edges.get(v).has(v)) sccs.push(comp.map(rel).sort());
    }
  };
  for (const v of files) if (!idx.has(v)) strong(v);
  return sccs;
}

function duplicatePairs(dir) {
  const r = spawnSync('duplicates', ['--repo', path.join(root, dir), '--most', '40', '--seconds', '60'], { encoding: 'utf8' });
  if (r.error) return { count: null, text: `duplicates not run (${r.error.code})` };
  const first = r.stdout.split('\n')[0];
  const m = /^(\d+) pairs?/.exec(first);
  return { count: first.startsWith('no duplicates') ? 0 : m ? Number(m[1]) : null, text: r.stdout.trim() };
}

console.log(`architecture measures of ${root}\n`);
largest(tsFiles, 'lib/');
largest(cppFiles, 'native/');
console.log('\nlongest functions in lib/ (TypeScript compiler API; lines from the declaration to its closing brace):');
for (const r of tsFunctions().slice(0, TOP)) console.log(`  ${String(r.lines).padStart(5)}  ${r.name}  ${r.where}`);
console.log('\nlongest functions in native/ (brace scan):');
for (const r of cppFunctions().slice(0, TOP)) console.log(`  ${String(r.lines).padStart(5)}  ${r.name}  ${r.where}`);
const cycles = importCycles();
console.log(`\nimport cycles in lib/ (strongly connected groups of modules, runtime imports): ${cycles.length}`);
for (const c of cycles) console.log(`  ${c.length} modules: ${c.slice(0, 40).join(', ')}${c.length > 40 ? ', ...' : ''}`);
for (const dir of ['lib', 'native/binding']) {
  const d = duplicatePairs(dir);
  console.log(`\nduplicates in ${dir}/: ${d.count === null ? '?' : d.count} pair(s)`);
  if (d.count) console.log(d.text.split('\n').map((l) => `  ${l}`).join('\n'));
}
