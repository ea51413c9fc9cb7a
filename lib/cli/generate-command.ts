// `myelin generate --model dir --prompt text`: samples continuations from a saved language model (its vocabulary in
// the model's metadata: metadata.vocab from Vocabulary.toJSON(), optional metadata.generate { startToken, stopToken }).
import { Command } from 'commander';
import { loadWithInfo } from '../io/model-file';
import { Vocabulary } from '../data/text';
import { generate } from '../generate';
import { UsageError, nonNegativeIntParser, positiveIntParser } from './args';
import { vocabularyOf } from './text-data';

export interface GenerateCommandOptions {
  model: string;
  prompt?: string;
  ids?: string;
  maxTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed?: number;
  samples: number;
  cache: boolean;
  /** A vocabulary .json file (Vocabulary.toJSON()) to encode and decode with, instead of the model's metadata.vocab. */
  vocab?: string;
}

function numberIn(option: string, ok: (v: number) => boolean, expect: string) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || !ok(v)) throw new UsageError(`${option} must be ${expect}, got '${value}'`);
    return v;
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Generates the samples; returns the lines written to stdout (each the prompt and its continuation). */
export function runGenerate(opts: GenerateCommandOptions, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): string[] {
  if (opts.prompt === undefined && opts.ids === undefined) throw new UsageError('generate: give a --prompt (text) or --ids (comma-separated token ids)');
  const { model, info } = loadWithInfo(opts.model);
  const meta = info.metadata as Record<string, unknown>;
  if (opts.vocab !== undefined && !/\.json$/i.test(opts.vocab)) throw new UsageError(`--vocab must be a vocabulary .json file (Vocabulary.toJSON()), got '${opts.vocab}'`);
  const vocab = opts.vocab !== undefined ? vocabularyOf(opts.vocab, []) : meta.vocab === undefined ? null : Vocabulary.fromJSON(meta.vocab);
  const settings = isObject(meta.generate) ? meta.generate : {};
  const start = typeof settings.startToken === 'number' ? settings.startToken : null;
  const stop = typeof settings.stopToken === 'number' ? settings.stopToken : null;
  let prompt: number[];
  if (opts.ids !== undefined) {
    prompt = opts.ids.split(',').map((s) => {
      const v = Number(s.trim());
      if (s.trim() === '' || !Number.isSafeInteger(v) || v < 0) throw new UsageError(`--ids must be comma-separated token ids (integers >= 0), got '${opts.ids}'`);
      return v;
    });
  } else {
    if (vocab === null) throw new UsageError(`generate: ${opts.model} has no vocabulary in its metadata (metadata.vocab); pass --vocab file.json, or --ids instead of --prompt`);
    prompt = Array.from(vocab.encode(opts.prompt as string));
  }
  if (start !== null) prompt.unshift(start);
  if (prompt.length === 0) throw new UsageError('generate: the prompt is empty and the model names no start token (metadata.generate.startToken)');
  const lines: string[] = [];
  for (let s = 0; s < opts.samples; s++) {
    const { tokens } = generate(model, prompt, {
      maxTokens: opts.maxTokens, temperature: opts.temperature, stopToken: stop, cache: opts.cache,
      ...(opts.topK !== undefined ? { topK: opts.topK } : {}), ...(opts.topP !== undefined ? { topP: opts.topP } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed + s } : {}),
    });
    const body = stop !== null && tokens[tokens.length - 1] === stop ? tokens.slice(0, -1) : tokens;
    const line = vocab === null ? [...prompt, ...body].join(',') : (opts.prompt ?? '') + vocab.decode(body, { skipSpecial: true });
    lines.push(line);
    write(line);
  }
  return lines;
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('sample text from a saved language model (a Sequential of Embedding, positional encoding, DecoderBlocks, ..., Linear)')
    .requiredOption('--model <dir>', 'saved model directory (with metadata.vocab for text prompts)')
    .option('--prompt <text>', 'text to continue (encoded with the model\'s vocabulary)')
    .option('--ids <list>', 'the prompt as comma-separated token ids instead')
    .option('--vocab <file.json>', "a saved vocabulary (Vocabulary.toJSON()) to encode the prompt and decode with, instead of the model's own")
    .option('--max-tokens <n>', 'tokens to generate per sample (default 50)', positiveIntParser('--max-tokens'), 50)
    .option('--temperature <t>', 'softmax temperature; 0 is greedy (default 1)', numberIn('--temperature', (v) => v >= 0, 'a number >= 0'), 1)
    .option('--top-k <k>', 'sample among the k most likely tokens', positiveIntParser('--top-k'))
    .option('--top-p <p>', 'nucleus sampling: the most likely tokens up to probability p', numberIn('--top-p', (v) => v > 0 && v <= 1, 'a number in (0, 1]'))
    .option('--seed <n>', 'seed of the sampler (sample i uses seed + i)', nonNegativeIntParser('--seed'))
    .option('--samples <n>', 'how many samples (default 1)', positiveIntParser('--samples'), 1)
    .option('--no-cache', 'run the whole context every token instead of the key/value cache')
    .action((opts: GenerateCommandOptions) => {
      runGenerate(opts);
    });
}
