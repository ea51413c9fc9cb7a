#!/usr/bin/env node
// Removes the declaration files in dist/ that the package's types never reach: a .d.ts is kept when
// dist/index.d.ts (the "types" entry) imports it, directly or through other kept .d.ts files
// (`from '...'`, `import('...')`, `import '...'`). The CLI's and the kernels' internal modules have no public
// types; leaving their declarations out keeps the installed package under its size budget.
// test/package-types.test.ts type-checks a consumer against the pruned dist/ with skipLibCheck off.
'use strict';
const fs = require('fs');
const path = require('path');

const dist = path.join(__dirname, '..', 'dist');
const entry = path.join(dist, 'index.d.ts');
if (!fs.existsSync(entry)) {
  console.error(`prune-dts: ${entry} not found (run tsc first)`);
  process.exit(1);
}

function resolveDts(from, spec) {
  const base = path.resolve(path.dirname(from), spec.replace(/\.js$/, ''));
  for (const c of [`${base}.d.ts`, path.join(base, 'index.d.ts')]) if (fs.existsSync(c)) return c;
  return null;
}

const kept = new Set();
const stack = [entry];
while (stack.length > 0) {
  const file = stack.pop();
  if (kept.has(file)) continue;
  kept.add(file);
  const text = fs.readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]*)['"]/g)) {
    const target = resolveDts(file, m[1]);
    if (target === null) {
      console.error(`prune-dts: ${path.relative(dist, file)} imports '${m[1]}', which has no declaration file`);
      process.exit(1);
    }
    stack.push(target);
  }
}

let removed = 0;
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.d.ts') && !kept.has(p)) {
      fs.rmSync(p);
      removed++;
    }
  }
})(dist);
console.log(`prune-dts: kept ${kept.size} declaration files reachable from dist/index.d.ts, removed ${removed}`);
