// `myelin generate` (the compiled CLI in a child process): text prompts through the saved vocabulary, the start and
// stop tokens from the model's metadata, cached == uncached output at temperature 0, seeds, usage errors (exit 2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import { ensureDist, DIST_CLI } from './helpers/dist';
import { save } from '../lib/io/model-file';
import * as nn from '../lib/nn';
import { charVocabulary } from '../lib/data/text';
import { generate } from '../lib/generate';

let dir = '';
const cli = (args: string[]): SpawnSyncReturns<string> => spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8' });
const show = (r: SpawnSyncReturns<string>): string => `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe('myelin generate', () => {
  const vocab = charVocabulary(['abcab', 'cabba', 'bca'], { specials: { pad: null, unk: '?', bos: null, eos: '.' }, order: 'alphabetical' });
  const model = new nn.Sequential([
    new nn.Embedding(vocab.size, 16), new nn.LearnedPositionalEncoding(8, 16), new nn.DecoderBlock(16, 2), new nn.LayerNorm(16), new nn.Linear(16, vocab.size),
  ], { seed: 6 });
  const eos = vocab.eosId as number;

  beforeAll(() => {
    ensureDist();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-gen-'));
    save(model, path.join(dir, 'lm'), { metadata: { vocab: vocab.toJSON() as never, generate: { startToken: eos, stopToken: eos } } });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('continues a text prompt like generate() does (start token prepended, stop token cut), cached or not', () => {
    const r = cli(['generate', '--model', path.join(dir, 'lm'), '--prompt', 'ab', '--temperature', '0', '--max-tokens', '12']);
    expect(r.status, show(r)).toBe(0);
    const prompt = [eos, ...vocab.encode('ab')];
    const want = generate(model, prompt, { maxTokens: 12, temperature: 0, stopToken: eos }).tokens;
    const body = want[want.length - 1] === eos ? want.slice(0, -1) : want;
    expect(r.stdout.trim()).toBe(`ab${vocab.decode(body, { skipSpecial: true })}`);
    const nc = cli(['generate', '--model', path.join(dir, 'lm'), '--prompt', 'ab', '--temperature', '0', '--max-tokens', '12', '--no-cache']);
    expect(nc.stdout).toBe(r.stdout);
  });

  it('seeded samples repeat; --samples gives that many lines', () => {
    const args = ['generate', '--model', path.join(dir, 'lm'), '--prompt', 'c', '--seed', '3', '--samples', '4', '--top-k', '3'];
    const a = cli(args), b = cli(args);
    expect(a.status, show(a)).toBe(0);
    expect(a.stdout.trim().split('\n')).toHaveLength(4);
    expect(b.stdout).toBe(a.stdout);
    expect(a.stdout.trim().split('\n').every((l) => l.startsWith('c'))).toBe(true);
  });

  it('usage errors exit 2 naming the option', () => {
    const noPrompt = cli(['generate', '--model', path.join(dir, 'lm')]);
    expect(noPrompt.status).toBe(2);
    expect(noPrompt.stderr).toMatch(/--prompt/);
    const badP = cli(['generate', '--model', path.join(dir, 'lm'), '--prompt', 'a', '--top-p', '1.5']);
    expect(badP.status).toBe(2);
    expect(badP.stderr).toMatch(/--top-p must be a number in \(0, 1\], got '1.5'/);
  });
});
