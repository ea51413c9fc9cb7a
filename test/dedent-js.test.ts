// scripts/dedent-js.js (a build step): the indentation of dist/'s JavaScript goes, every line keeps its number, and
// whitespace inside template literals and continued strings (part of the values) stays.
import { beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import { ensureDist } from './helpers/dist';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { dedent } = require('../scripts/dedent-js.js') as { dedent(file: string, text: string): string };

describe('scripts/dedent-js.js', () => {
  beforeAll(() => ensureDist());
  const src = [
    'function f(n) {',
    '    const a = `x',
    '    y ${n + 2}',
    '      z ${`',
    '        inner`}`;',
    '    const b = "s\\',
    '   t";',
    '    if (n > 0) {',
    '\t\treturn /  a/.test(a) ? a + b : b;',
    '    }',
    '    return a + b;',
    '}',
    'f;',
    '',
  ].join('\n');

  it('removes indentation outside strings and keeps every line and every string value', () => {
    const out = dedent('t.js', src);
    expect(out.split('\n')).toHaveLength(src.split('\n').length);
    expect(out).toContain('\nconst a = `x\n    y ${n + 2}\n      z ${`\n        inner`}`;');
    expect(out).toContain('\nconst b = "s\\\n   t";');
    expect(out).toContain('\nreturn /  a/.test(a)');
    const before = vm.runInNewContext(src) as (n: number) => string;
    const after = vm.runInNewContext(out) as (n: number) => string;
    expect(after(1)).toBe(before(1));
    expect(after(0)).toBe(before(0));
    expect(dedent('t.js', out)).toBe(out); // idempotent: a second build changes nothing
  });

  it('refuses a file that does not parse instead of guessing', () => {
    expect(() => dedent('bad.js', 'function (')).toThrow(/bad\.js: does not parse as JavaScript/);
  });

  it('dist/ was built through it (no indented line outside a string in the package entry)', () => {
    const entry = fs.readFileSync(path.join(__dirname, '..', 'dist', 'index.js'), 'utf8');
    expect(dedent('index.js', entry)).toBe(entry);
  });
});
