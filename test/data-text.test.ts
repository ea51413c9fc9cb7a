// Vocabularies (char / word, specials, JSON round trip, saved in model metadata), sliding windows, and the npm text corpora.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tensor } from '../lib/tensor';
import { IntTensor, intTensor } from '../lib/int-tensor';
import * as nn from '../lib/nn';
import { save, readModelInfo } from '../lib/io';
import { Vocabulary, charVocabulary, wordVocabulary } from '../lib/data/text';
import { languageModelWindows, timeSeriesWindows } from '../lib/data/windows';
import { loadFirstNames, loadSpamAssassin, requireCorpus } from '../lib/data/text-corpora';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('vocabularies', () => {
  it('char level: specials first, then characters by frequency (ties alphabetical); encode / decode round trip', () => {
    const v = charVocabulary(['abba', 'cab']);
    expect(v.tokens).toEqual(['<pad>', '<unk>', '<bos>', '<eos>', 'a', 'b', 'c']);
    expect([v.padId, v.unkId, v.bosId, v.eosId]).toEqual([0, 1, 2, 3]);
    expect(Array.from(v.encode('cabz', { addBos: true, addEos: true }))).toEqual([2, 6, 4, 5, 1, 3]);
    expect(v.decode([2, 6, 4, 5, 1, 3, 0])).toBe('cab<unk>');
    expect(v.decode([2, 6, 3], { skipSpecial: false })).toBe('<bos>c<eos>');
    expect(v.size).toBe(7);
    // Code points, not UTF-16 units.
    expect(charVocabulary('héé😀').tokens.slice(4)).toEqual(['é', 'h', '😀']);
  });

  it('word level: words and punctuation, lowercase, minFrequency, maxTokens, alphabetical order', () => {
    const text = ['The cat sat.', 'the cat ran!', "Don't run"];
    const v = wordVocabulary(text, { lowercase: true });
    expect(v.tokenize("Don't run, cat!")).toEqual(["don't", 'run', ',', 'cat', '!']);
    expect(v.tokens.slice(4, 6)).toEqual(['cat', 'the']);
    expect(v.decode(v.encode('the cat sat.'))).toBe('the cat sat .');
    expect(wordVocabulary(text, { lowercase: true, minFrequency: 2 }).tokens.slice(4)).toEqual(['cat', 'the']);
    expect(wordVocabulary(text, { lowercase: true, maxTokens: 1 }).tokens.slice(4)).toEqual(['cat']);
    expect(wordVocabulary(['b a c'], { order: 'alphabetical' }).tokens.slice(4)).toEqual(['a', 'b', 'c']);
  });

  it('specials can be renamed or left out; errors name the missing piece', () => {
    const v = charVocabulary('ab', { specials: { pad: '_', unk: null, bos: null, eos: '.' } });
    expect(v.tokens).toEqual(['_', '.', 'a', 'b']);
    expect(() => v.encode('abc')).toThrow(/Vocabulary: token 'c' \(a string\) is not in the vocabulary and it has no unk token/);
    expect(() => v.encode('ab', { addBos: true })).toThrow(/Vocabulary.encode: addBos is true but the vocabulary has no bos token/);
    expect(() => charVocabulary('a', { specials: { pad: 'x', eos: 'x' } })).toThrow(/specials: 'x' \(a string\) is given for two special tokens/);
    expect(() => charVocabulary('a', { specials: { sep: '|' } as never })).toThrow(/specials has no key 'sep'/);
    expect(() => Vocabulary.fit(['a', 3 as never])).toThrow(/Vocabulary.fit: texts\[1\] must be a string, got 3/);
    expect(() => v.decode([9])).toThrow(/Vocabulary.decode: id 9 at position 0 is not in \[0, 3\]/);
  });

  it('encodeBatch pads and cuts to one length as an IntTensor', () => {
    const v = charVocabulary(['ab', 'abc']);
    const t = v.encodeBatch(['ab', 'abca', ''], { addEos: true });
    expect(t).toBeInstanceOf(IntTensor);
    expect(t.toArray()).toEqual([[4, 5, 3, 0, 0], [4, 5, 6, 4, 3], [3, 0, 0, 0, 0]]);
    expect(v.encodeBatch(['abcabc'], { length: 3 }).toArray()).toEqual([[4, 5, 6]]);
  });

  it('toJSON / fromJSON round-trips, also through a saved model\'s metadata', () => {
    const v = wordVocabulary(['Hello world', 'hello there'], { lowercase: true, specials: { bos: null } });
    const back = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
    expect(back.toJSON()).toEqual(v.toJSON());
    expect(Array.from(back.encode('hello world!'))).toEqual(Array.from(v.encode('hello world!')));
    const dir = mkdtempSync(join(tmpdir(), 'myelin-vocab-'));
    dirs.push(dir);
    save(new nn.Sequential([new nn.Embedding(v.size, 4), new nn.Flatten(), new nn.Linear(8, 2)]), dir, { metadata: { vocab: v.toJSON() as never } });
    expect(Vocabulary.fromJSON(readModelInfo(dir).metadata.vocab).tokens).toEqual(v.tokens);
    expect(() => Vocabulary.fromJSON({ format: 'myelin-vocabulary', version: 1, level: 'char', lowercase: false, specials: { pad: '<pad>', unk: null, bos: null, eos: null }, tokens: ['a'] }))
      .toThrow(/Vocabulary.fromJSON: the pad token '<pad>' \(a string\) is not among the tokens/);
    expect(() => Vocabulary.fromJSON({ format: 'x' })).toThrow(/Vocabulary.fromJSON: json must be an object from Vocabulary.toJSON\(\)/);
  });
});

describe('sliding windows', () => {
  it('language modelling: inputs and next-token targets, with stride', () => {
    const ids = [10, 11, 12, 13, 14, 15, 16];
    const w = languageModelWindows(ids, 3);
    expect(w.inputs.toArray()).toEqual([[10, 11, 12], [13, 14, 15]]);
    expect(w.targets.toArray()).toEqual([[11, 12, 13], [14, 15, 16]]);
    const s = languageModelWindows(intTensor(ids), 3, { stride: 1 });
    expect(s.inputs.shape).toEqual([4, 3]);
    expect(s.targets.toArray()).toEqual([[11, 12, 13], [12, 13, 14], [13, 14, 15], [14, 15, 16]]);
    expect(() => languageModelWindows([1, 2, 3], 3)).toThrow(/languageModelWindows: 3 tokens are too few for one window of contextLength 3 \(needs 4/);
    expect(() => languageModelWindows(intTensor([[1, 2], [3, 4]]), 1)).toThrow(/ids must be a 1-D stream/);
  });

  it('time series: window, horizon, stride, multivariate with target columns', () => {
    const series = [0, 1, 2, 3, 4, 5, 6, 7];
    const w = timeSeriesWindows(series, 3, { horizon: 2, stride: 2 });
    expect(w.inputs.toArray()).toEqual([[0, 1, 2], [2, 3, 4]]);
    expect(w.targets.toArray()).toEqual([[3, 4], [5, 6]]);
    const multi = tensor([[0, 10], [1, 11], [2, 12], [3, 13], [4, 14]]);
    const m = timeSeriesWindows(multi, 2, { targetColumns: [1] });
    expect(m.inputs.shape).toEqual([3, 2, 2]);
    expect((m.inputs.toArray() as number[][][])[1]).toEqual([[1, 11], [2, 12]]);
    expect(m.targets.toArray()).toEqual([[12], [13], [14]]);
    expect(timeSeriesWindows(multi, 2).targets.shape).toEqual([3, 1, 2]);
    expect(() => timeSeriesWindows(series, 7, { horizon: 2 })).toThrow(/a series of 8 steps is too short for window 7 plus horizon 2/);
    expect(() => timeSeriesWindows(multi, 2, { targetColumns: [2] })).toThrow(/targetColumns\[0\] must be an integer in \[0, 1\], got 2/);
  });
});

// These read the npm packages installed as devDependencies by `npm ci`; when one is missing, the loader's
// error (naming the package and the install command) fails the test.
describe('text corpora from npm', () => {
  it('loadFirstNames: female, male and all (de-duplicated, sorted)', () => {
    const female = loadFirstNames({ set: 'female' });
    const male = loadFirstNames({ set: 'male' });
    const all = loadFirstNames();
    expect(female.length).toBeGreaterThan(4000);
    expect(male.length).toBeGreaterThan(3000);
    expect(female).toContain('Abigail');
    expect(male).toContain('Aaron');
    expect(all.length).toBe(new Set([...female, ...male]).size);
    expect(all.slice().sort()).toEqual(all);
    expect(() => loadFirstNames({ set: 'other' as never })).toThrow(/data.loadFirstNames: set must be 'female', 'male' or 'all'|set must be/);
  });

  it('loadSpamAssassin: 6046 messages labelled spam (1) or ham (0), bodies without headers', () => {
    const d = loadSpamAssassin({ bodyOnly: true });
    expect(d.texts.length).toBe(6046);
    const spam = d.labels.reduce((a, b) => a + b, 0);
    expect(spam / d.labels.length).toBeGreaterThan(0.25);
    expect(spam / d.labels.length).toBeLessThan(0.4);
    expect(d.groups.filter((g, i) => g.startsWith('spam') !== (d.labels[i] === 1))).toEqual([]);
    expect(d.texts.filter((t) => /^Return-Path:/m.test(t.slice(0, 200))).length).toBeLessThan(30);
  });

  it('a missing corpus package is an Error naming it and the install command', () => {
    expect(() => requireCorpus('data.loadX', '@myelin-test/no-such-corpus')).toThrow(
      /^data.loadX: the corpus package @myelin-test\/no-such-corpus is not installed; install it with: npm install --save-dev @myelin-test\/no-such-corpus$/,
    );
  });
});
