#!/usr/bin/env node
// Test helper: `node scripts/hide-compilers.js DIR` fills DIR with symlinks to every program on PATH except
// C/C++ compilers (cc, c++, gcc, g++, clang, cpp and their versioned / target-prefixed names) and prints DIR.
// With PATH=DIR a build sees a machine with no compiler (used by test/install.test.ts and .ci/run).
'use strict';
const fs = require('fs');
const path = require('path');

const COMPILER = /^(?:.*-)?(?:cc|c\+\+|gcc|g\+\+|clang|clang\+\+|cpp|c89|c99)(?:-[\d.]+)?$/;

function hideCompilers(dir, searchPath = process.env.PATH || '') {
  fs.mkdirSync(dir, { recursive: true });
  for (const from of searchPath.split(path.delimiter)) {
    let names;
    try {
      names = fs.readdirSync(from);
    } catch {
      continue;
    }
    for (const name of names) {
      if (COMPILER.test(name)) continue;
      const link = path.join(dir, name);
      if (fs.existsSync(link) || fs.lstatSync(path.join(from, name), { throwIfNoEntry: false }) === undefined) continue;
      try {
        fs.symlinkSync(path.join(from, name), link);
      } catch {
        // a name that appeared twice on PATH: the first one wins, as in a shell
      }
    }
  }
  return dir;
}

module.exports = { hideCompilers, COMPILER };

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node scripts/hide-compilers.js DIR\n');
    process.exit(2);
  }
  process.stdout.write(`${hideCompilers(path.resolve(dir))}\n`);
}
