// Runs every ```js block of README.md and of the guides in docs/ (against the built package, as a user would)
// so the docs cannot rot. A block preceded by `<!-- readme-test: skip <why> -->` is not run (the reason is required).
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDist } from './helpers/dist';

const root = path.resolve(__dirname, '..');

/** README.md first, then every Markdown file under docs/ (the guides), as paths relative to the root. */
function docFiles(): string[] {
  const out = ['README.md'];
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = path.join(rel, e.name);
      if (e.isDirectory() && e.name !== 'api') walk(r);
      else if (e.isFile() && e.name.endsWith('.md')) out.push(r);
    }
  };
  walk('docs');
  return out;
}

interface Block { line: number; code: string; skip: string | null }

function jsBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```js') continue;
    const prev = i > 0 ? lines[i - 1] : '';
    const skip = /<!--\s*readme-test:\s*skip\s*(.*?)-->/.exec(prev);
    const start = i + 1;
    let j = start;
    while (j < lines.length && lines[j].trim() !== '```') j++;
    blocks.push({ line: start + 1, code: lines.slice(start, j).join('\n'), skip: skip ? skip[1] || 'skipped' : null });
    i = j;
  }
  return blocks;
}

for (const doc of docFiles()) {
  const blocks = jsBlocks(fs.readFileSync(path.join(root, doc), 'utf8'));

  describe(`${doc} js examples`, () => {
    beforeAll(() => ensureDist(), 300_000);

    it('every skipped example says why', () => {
      if (doc === 'README.md') expect(blocks.filter((b) => !b.skip).length).toBeGreaterThanOrEqual(1); // the example
      for (const b of blocks) if (b.skip !== null) expect(b.skip.length, `${doc} line ${b.line}`).toBeGreaterThan(3);
    });

    for (const block of blocks.filter((b) => !b.skip)) {
      it(`block at ${doc} line ${block.line} runs`, () => {
        // The script lives inside the package so require('myelin') resolves to this package (self-reference
        // through "exports"); it runs in a scratch directory so files it writes land there.
        const dir = fs.mkdtempSync(path.join(root, '.readme-test-'));
        const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-readme-'));
        const file = path.join(dir, 'example.js');
        fs.writeFileSync(file, `'use strict';\n(async () => {\n${block.code}\n})().catch((e) => { console.error(e); process.exit(1); });\n`);
        try {
          const out = execFileSync(process.execPath, [file], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
          expect(typeof out).toBe('string');
        } catch (e) {
          const err = e as { stdout?: string; stderr?: string; message: string };
          throw new Error(`${doc} block at line ${block.line} failed:\n${err.stderr || err.message}\n${err.stdout ?? ''}`);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
          fs.rmSync(cwd, { recursive: true, force: true });
        }
      });
    }
  });
}
