// `myelin train --vocab`, `myelin predict` on text and `myelin generate --vocab` (the compiled CLI in a child process):
// a CSV text column encoded with a fitted or saved vocabulary, the vocabulary saved with the model, text input
// encoded with it at predict time (unknown tokens -> unk, as Vocabulary.encode), and usage errors (exit 2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import { ensureDist, DIST_CLI } from './helpers/dist';
import { load, readModelInfo, save } from '../lib/io/model-file';
import * as nn from '../lib/nn';
import { Tensor } from '../lib/tensor';
import { Vocabulary, charVocabulary } from '../lib/data/text';
import { noGrad } from '../lib/autograd';

let dir = '';
const cli = (args: string[], input?: string): SpawnSyncReturns<string> =>
  spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', cwd: dir, ...(input !== undefined ? { input } : {}) });
const show = (r: SpawnSyncReturns<string>): string => `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
const at = (f: string): string => path.join(dir, f);

const SPAM = ['cheap', 'pills', 'buy', 'now', 'free', 'offer', 'win', 'cash'];
const HAM = ['meeting', 'noon', 'report', 'team', 'lunch', 'project', 'notes', 'agenda'];
const texts: string[] = [];
const labels: string[] = [];
let seed = 7;
const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
for (let i = 0; i < 240; i++) {
  const words = i % 2 === 0 ? SPAM : HAM;
  texts.push(Array.from({ length: 3 + Math.floor(rnd() * 4) }, () => words[Math.floor(rnd() * words.length)]).join(' ') + ', ok');
  labels.push(i % 2 === 0 ? 'spam' : 'ham');
}
const NEW = ['free cash now', 'team meeting notes', 'zebra quokka offer'];

/** The model's predicted class names for texts, computed in-process from the saved model and its vocabulary. */
function predictInProcess(modelDir: string, list: string[]): string[] {
  const info = readModelInfo(modelDir);
  const meta = info.metadata as { vocab: unknown; text: { length: number } };
  const vocab = Vocabulary.fromJSON(meta.vocab);
  const ids = vocab.encodeBatch(list, { length: meta.text.length });
  const model = load(modelDir);
  const out = noGrad(() => model.predict(new Tensor(Float32Array.from(ids.data), ids.shape)));
  const classes = info.preprocessing?.classNames as string[];
  return Array.from({ length: list.length }, (_, r) => {
    const row = out.data.subarray(r * classes.length, (r + 1) * classes.length);
    return classes[row.indexOf(Math.max(...row))];
  });
}

describe('myelin train --vocab / predict on text', () => {
  beforeAll(() => {
    ensureDist();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-vocab-'));
    fs.writeFileSync(at('mail.csv'), ['id,text,label', ...texts.map((t, i) => `${i},"${t}",${labels[i]}`)].join('\n') + '\n');
    fs.writeFileSync(at('new.txt'), NEW.join('\n') + '\n');
    fs.writeFileSync(at('new.csv'), ['text,other', ...NEW.map((t) => `${t},1`)].join('\n') + '\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('word vocabulary: trains, saves the vocabulary and the length, and predict encodes text with them', () => {
    const r = cli(['train', '--data', 'mail.csv', '--vocab', 'word', '--embedding', '8', '--layers', '16', '--epochs', '15', '--seed', '1', '--out', 'word', '-q']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/text: column "text" as 8 token ids per row, a word vocabulary of 22 tokens/);
    const meta = readModelInfo(at('word')).metadata as { vocab: unknown; text: { length: number; column: string } };
    // the vocabulary fitted on the text column (the id column is ignored: 'text' is the default column)
    expect(meta.vocab).toEqual(Vocabulary.fit(texts, { level: 'word' }).toJSON());
    expect(meta.text).toEqual({ length: 8, column: 'text' });
    const want = predictInProcess(at('word'), NEW);
    expect(want.slice(0, 2)).toEqual(['spam', 'ham']);
    for (const input of ['new.txt', 'new.csv']) {
      const p = cli(['predict', '--model', 'word', '--input', input]);
      expect(p.status, show(p)).toBe(0);
      expect(p.stdout.trim().split('\n')).toEqual(['class', ...want]);
    }
    const stdin = cli(['predict', '--model', 'word', '--input', '-', '--text'], NEW.join('\n'));
    expect(stdin.stdout.trim().split('\n'), show(stdin)).toEqual(['class', ...want]);
  });

  it('char vocabulary with --seq-len and --text-column by index; a saved vocabulary file is used as it is', () => {
    const r = cli(['train', '--data', 'mail.csv', '--vocab', 'char', '--text-column', '1', '--seq-len', '24', '--embedding', '4', '--layers', '8', '--epochs', '2', '--seed', '2', '--out', 'char', '-q']);
    expect(r.status, show(r)).toBe(0);
    const meta = readModelInfo(at('char')).metadata as { vocab: unknown; text: { length: number } };
    expect(meta.vocab).toEqual(Vocabulary.fit(texts, { level: 'char' }).toJSON());
    expect(meta.text.length).toBe(24);
    const saved = charVocabulary('abcdefghijklmnopqrstuvwxyz ,', { order: 'alphabetical' });
    fs.writeFileSync(at('vocab.json'), JSON.stringify(saved.toJSON()));
    const f = cli(['train', '--data', 'mail.csv', '--vocab', 'vocab.json', '--embedding', '4', '--epochs', '1', '--seed', '3', '--out', 'file', '-q']);
    expect(f.status, show(f)).toBe(0);
    expect((readModelInfo(at('file')).metadata as { vocab: unknown }).vocab).toEqual(saved.toJSON());
    const p = cli(['predict', '--model', 'file', '--input', 'new.txt']);
    expect(p.stdout.trim().split('\n'), show(p)).toEqual(['class', ...predictInProcess(at('file'), NEW)]);
  });

  it('usage errors name the option and what was wrong (exit 2)', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--data', 'mail.csv', '--vocab', 'word', '--out', 'x'], /--vocab gives token ids: add --embedding <dimension>/],
      [['train', '--data', 'mail.csv', '--embedding', '8', '--out', 'x'], /--embedding must be <vocab size>:<dimension> for a CSV of token ids, got '8' \(a dimension alone goes with --vocab\)/],
      [['train', '--data', 'mail.csv', '--vocab', 'words', '--embedding', '8', '--out', 'x'], /--vocab must be 'char', 'word' or a vocabulary \.json file .*got 'words'/],
      [['train', '--data', 'mail.csv', '--vocab', 'missing.json', '--embedding', '8', '--out', 'x'], /--vocab missing\.json: .*missing\.json/],
      [['train', '--data', 'mail.csv', '--vocab', 'word', '--embedding', '5:8', '--out', 'x'], /--embedding 5:8: the --vocab vocabulary has 22 tokens/],
      [['train', '--data', 'mail.csv', '--vocab', 'word', '--text-column', 'body', '--embedding', '8', '--out', 'x'], /--text-column 'body' is not a column of --data \(columns: id, text, label\)/],
      [['train', '--data', 'new.txt', '--vocab', 'word', '--embedding', '8', '--out', 'x'], /a \.txt file holds texts only; training with --vocab needs a CSV with a text column and a label column/],
      [['train', '--data', 'mail.csv', '--seq-len', '8', '--out', 'x'], /--seq-len goes with --vocab/],
      [['predict', '--model', 'plain', '--input', 'new.txt', '--text'], /plain has no vocabulary \(metadata\.vocab\): it was not trained on text \(myelin train --vocab\)/],
      [['generate', '--model', 'plain', '--prompt', 'ab', '--vocab', 'vocab.txt'], /--vocab must be a vocabulary \.json file/],
    ];
    save(new nn.Sequential([new nn.Linear(3, 2)]), at('plain'), { inputShape: [3] });
    for (const [args, message] of cases) {
      const r = cli(args);
      expect(r.status, `${args.join(' ')}\n${show(r)}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});

describe('myelin generate --vocab', () => {
  it('encodes the prompt and decodes with a vocabulary file for a model saved without one', () => {
    const vocab = charVocabulary(['abcab', 'cabba'], { specials: { pad: null, unk: '?', bos: null, eos: '.' }, order: 'alphabetical' });
    const model = new nn.Sequential([new nn.Embedding(vocab.size, 8), new nn.LearnedPositionalEncoding(8, 8), new nn.DecoderBlock(8, 2), new nn.Linear(8, vocab.size)], { seed: 3 });
    save(model, at('lm-bare'));
    save(model, at('lm-vocab'), { metadata: { vocab: vocab.toJSON() as never } });
    fs.writeFileSync(at('chars.json'), JSON.stringify(vocab.toJSON()));
    const args = ['--prompt', 'ab', '--temperature', '0', '--max-tokens', '5'];
    const bare = cli(['generate', '--model', 'lm-bare', ...args]);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/has no vocabulary in its metadata \(metadata\.vocab\); pass --vocab file\.json, or --ids/);
    const withFile = cli(['generate', '--model', 'lm-bare', '--vocab', 'chars.json', ...args]);
    const withMeta = cli(['generate', '--model', 'lm-vocab', ...args]);
    expect(withFile.status, show(withFile)).toBe(0);
    expect(withFile.stdout).toBe(withMeta.stdout);
    expect(withFile.stdout.startsWith('ab')).toBe(true);
  });
});
