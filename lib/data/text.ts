// Vocabularies for text: character- or word-level, fitted on text, encode/decode with pad/unk/bos/eos, saved as JSON.
import { IntTensor } from '../int-tensor';
import { argumentError, checkBoolean, checkNumber, checkOneOf, checkOptions, checkPositiveInt, describe, invalid, isPlainObject } from '../validate';

/** How a Vocabulary splits text: 'char' (Unicode code points) or 'word'. */
export type TokenLevel = 'char' | 'word';

/** The special tokens (null leaves one out). */
export interface SpecialTokens {
  pad?: string | null;
  unk?: string | null;
  bos?: string | null;
  eos?: string | null;
}

/** Options of building a data.Vocabulary: level, special tokens, lowercase, minFrequency, maxTokens and token order. */
export interface VocabularyOptions {
  /** Characters (Unicode code points) or words (default 'char'). */
  level?: TokenLevel;
  /** Special tokens, given the first ids in this order: pad, unk, bos, eos (defaults '<pad>', '<unk>', '<bos>', '<eos>'). */
  specials?: SpecialTokens;
  /** Lower-case text before tokenising (default false). */
  lowercase?: boolean;
  /** Keep tokens seen at least this often (default 1). */
  minFrequency?: number;
  /** Keep at most this many tokens besides the specials, the most frequent (default: all). */
  maxTokens?: number;
  /** Token order after the specials: 'frequency' (most frequent first, ties alphabetical; default) or 'alphabetical'. */
  order?: 'frequency' | 'alphabetical';
}

/** Options of Vocabulary.encode: addBos and addEos. */
export interface EncodeOptions {
  /** Start with the bos token (default false). */
  addBos?: boolean;
  /** End with the eos token (default false). */
  addEos?: boolean;
}

/** Options of Vocabulary.encodeBatch: the row length (cut or padded), addBos and addEos. */
export interface EncodeBatchOptions extends EncodeOptions {
  /** Every row's length: longer texts are cut (at the end), shorter ones padded with pad (default: the longest). */
  length?: number;
}

/** Options of Vocabulary.decode: skipSpecial (default true). */
export interface DecodeOptions {
  /** Leave out pad, bos and eos (default true; unk is kept, it stands for a token). */
  skipSpecial?: boolean;
}

/** The JSON form of a vocabulary (what toJSON gives, fromJSON reads; fits in a saved model's metadata). */
export interface VocabularyJson {
  format: 'myelin-vocabulary';
  version: 1;
  level: TokenLevel;
  lowercase: boolean;
  specials: { pad: string | null; unk: string | null; bos: string | null; eos: string | null };
  tokens: string[];
}

const SPECIAL_KEYS = ['pad', 'unk', 'bos', 'eos'] as const;
const DEFAULT_SPECIALS = { pad: '<pad>', unk: '<unk>', bos: '<bos>', eos: '<eos>' };
// Words: runs of letters, digits, apostrophes and underscores; every other non-space character is a token of its own.
const WORD_PATTERN = /[\p{L}\p{N}_']+|[^\s\p{L}\p{N}_']/gu;

function tokenizeWith(level: TokenLevel, lowercase: boolean, text: string): string[] {
  const t = lowercase ? text.toLowerCase() : text;
  return level === 'char' ? Array.from(t) : t.match(WORD_PATTERN) ?? [];
}

/**
 * A token <-> id table. Build one with Vocabulary.fit(texts, opts) (or data.charVocabulary / data.wordVocabulary),
 * encode text to ids, decode ids to text, and keep it with the model: save(model, dir, { metadata: { vocab:
 * vocab.toJSON() } }), then Vocabulary.fromJSON(info.metadata.vocab). Ids: the specials first (pad 0, unk 1,
 * bos 2, eos 3 with the defaults), then the tokens.
 */
export class Vocabulary {
  readonly level: TokenLevel;
  readonly lowercase: boolean;
  /** Every token by id (specials included). */
  readonly tokens: readonly string[];
  readonly padId: number | null;
  readonly unkId: number | null;
  readonly bosId: number | null;
  readonly eosId: number | null;
  private readonly ids: Map<string, number>;
  private readonly specials: VocabularyJson['specials'];

  private constructor(level: TokenLevel, lowercase: boolean, specials: VocabularyJson['specials'], tokens: string[], where: string) {
    this.level = level;
    this.lowercase = lowercase;
    this.specials = specials;
    this.tokens = Object.freeze(tokens.slice());
    this.ids = new Map();
    tokens.forEach((t, i) => {
      if (this.ids.has(t)) throw argumentError(where, `token ${describe(t)} appears twice (ids ${this.ids.get(t)} and ${i})`);
      this.ids.set(t, i);
    });
    const idOf = (s: string | null): number | null => (s === null ? null : (this.ids.get(s) as number));
    this.padId = idOf(specials.pad);
    this.unkId = idOf(specials.unk);
    this.bosId = idOf(specials.bos);
    this.eosId = idOf(specials.eos);
  }

  /**
   * Builds a vocabulary from one text or many.
   * @param texts one text or an array of them.
   * @param opts level ('char' default, or 'word'), specials (default '<pad>', '<unk>', '<bos>', '<eos>'), lowercase (default false), minFrequency (default 1), maxTokens (default all), order ('frequency' default, or 'alphabetical').
   * @returns the vocabulary: the specials first, then the kept tokens.
   * @throws Error when texts is not a string or an array of strings, or an option is unknown or out of range.
   * @example data.Vocabulary.fit(['to be or not to be'], { level: 'word' }).size // 8 (4 specials + 4 words)
   */
  static fit(texts: string | readonly string[], opts: VocabularyOptions = {}): Vocabulary {
    const where = 'Vocabulary.fit';
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Array.isArray(list)) invalid(where, 'texts', 'a string or an array of strings', texts);
    const o = checkOptions(where, opts, ['level', 'specials', 'lowercase', 'minFrequency', 'maxTokens', 'order']);
    const level = o.level === undefined ? 'char' : checkOneOf(where, 'level', o.level, ['char', 'word'] as const);
    const lowercase = o.lowercase === undefined ? false : checkBoolean(where, 'lowercase', o.lowercase);
    const minFrequency = o.minFrequency === undefined ? 1 : checkPositiveInt(where, 'minFrequency', o.minFrequency);
    const maxTokens = o.maxTokens === undefined ? Infinity : checkNumber(where, 'maxTokens', o.maxTokens, { integer: true, min: 0 });
    const order = o.order === undefined ? 'frequency' : checkOneOf(where, 'order', o.order, ['frequency', 'alphabetical'] as const);
    const specials = specialsOf(where, o.specials);
    const counts = new Map<string, number>();
    list.forEach((text, i) => {
      if (typeof text !== 'string') invalid(where, `texts[${i}]`, 'a string', text);
      for (const tok of tokenizeWith(level, lowercase, text)) counts.set(tok, (counts.get(tok) ?? 0) + 1);
    });
    const reserved = new Set(SPECIAL_KEYS.map((k) => specials[k]).filter((s): s is string => s !== null));
    const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    const kept = [...counts.entries()].filter(([t, c]) => c >= minFrequency && !reserved.has(t));
    kept.sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]));
    const chosen = kept.slice(0, Math.min(kept.length, maxTokens)).map(([t]) => t);
    if (order === 'alphabetical') chosen.sort(cmp);
    return new Vocabulary(level, lowercase, specials, [...reserved, ...chosen], where);
  }

  /**
   * Reads what toJSON wrote (checked: an Error names the field that is wrong).
   * @param json what toJSON() returned (e.g. parsed from a file).
   * @throws Error naming the field that is missing or wrong.
   * @example const vocab = data.Vocabulary.fromJSON(JSON.parse(fs.readFileSync('vocab.json', 'utf8')));
   */
  static fromJSON(json: unknown): Vocabulary {
    const where = 'Vocabulary.fromJSON';
    if (!isPlainObject(json) || json.format !== 'myelin-vocabulary') invalid(where, 'json', "an object from Vocabulary.toJSON() (format 'myelin-vocabulary')", json);
    if (json.version !== 1) invalid(where, 'version', '1', json.version);
    const level = checkOneOf(where, 'level', json.level, ['char', 'word'] as const);
    const lowercase = checkBoolean(where, 'lowercase', json.lowercase);
    const specials = specialsOf(where, json.specials, true);
    if (!Array.isArray(json.tokens) || json.tokens.some((t) => typeof t !== 'string')) invalid(where, 'tokens', 'an array of strings', json.tokens);
    const tokens = json.tokens as string[];
    for (const k of SPECIAL_KEYS) {
      const s = specials[k];
      if (s !== null && !tokens.includes(s)) throw argumentError(where, `the ${k} token ${describe(s)} is not among the tokens`);
    }
    return new Vocabulary(level, lowercase, specials, tokens, where);
  }

  /**
   * The vocabulary as JSON data (format 'myelin-vocabulary', version 1): level, lowercase, specials and the tokens
   * in id order; Vocabulary.fromJSON reads it back.
   * @returns a plain object (a copy).
   * @example fs.writeFileSync('vocab.json', JSON.stringify(vocab.toJSON()));
   */
  toJSON(): VocabularyJson {
    return { format: 'myelin-vocabulary', version: 1, level: this.level, lowercase: this.lowercase, specials: { ...this.specials }, tokens: this.tokens.slice() };
  }

  /** Number of ids (specials included): the numEmbeddings of an nn.Embedding over it. */
  get size(): number {
    return this.tokens.length;
  }

  /**
   * The text split into tokens as this vocabulary sees them (characters, or words and punctuation).
   * @param text the text.
   * @throws Error when text is not a string.
   * @example data.Vocabulary.fit('ab').tokenize('ba') // ['b', 'a']
   */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') invalid('Vocabulary.tokenize', 'text', 'a string', text);
    return tokenizeWith(this.level, this.lowercase, text);
  }

  /**
   * The id of a token (unk's for an unknown one; an Error when there is no unk token).
   * @param token the token.
   * @throws Error when the token is unknown and the vocabulary has no unk token.
   * @example data.charVocabulary('abca').idOf('b') // 5 (after the 4 special tokens, then 'a')
   */
  idOf(token: string): number {
    const id = this.ids.get(token);
    if (id !== undefined) return id;
    if (this.unkId === null) throw argumentError('Vocabulary', `token ${describe(token)} is not in the vocabulary and it has no unk token`);
    return this.unkId;
  }

  /**
   * The token of an id.
   * @param id an id in [0, size).
   * @throws Error when id is not an integer in [0, size).
   * @example vocab.tokenOf(vocab.idOf('b')) // 'b'
   */
  tokenOf(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) invalid('Vocabulary.tokenOf', 'id', `an integer in [0, ${this.tokens.length - 1}]`, id);
    return this.tokens[id];
  }

  /**
   * The ids of a text (unknown tokens become unk), optionally framed by bos / eos.
   * @param text the text.
   * @param opts addBos, addEos (default false each).
   * @throws Error when text is not a string, an option is unknown, bos or eos is asked for and the vocabulary has none, or a token is unknown without an unk token.
   * @example vocab.encode('hello', { addEos: true })
   */
  encode(text: string, opts: EncodeOptions = {}): Int32Array {
    const o = checkOptions('Vocabulary.encode', opts, ['addBos', 'addEos']);
    const [bos, eos] = this.frame('Vocabulary.encode', o);
    const toks = this.tokenize(text);
    const out = new Int32Array(toks.length + (bos === null ? 0 : 1) + (eos === null ? 0 : 1));
    let k = 0;
    if (bos !== null) out[k++] = bos;
    for (const t of toks) out[k++] = this.idOf(t);
    if (eos !== null) out[k++] = eos;
    return out;
  }

  /**
   * Many texts as one IntTensor [texts, length]: cut to length, padded with pad (which must exist when any row is short).
   * @param texts the texts.
   * @param opts length (every row's length; default the longest), addBos, addEos (default false each).
   * @returns an IntTensor [texts, length].
   * @throws Error when texts is not an array of strings, an option is unknown, length is not a positive integer, or a row needs padding and the vocabulary has no pad token.
   * @example vocab.encodeBatch(['hi', 'hello'], { length: 8 }).shape // [2, 8]
   */
  encodeBatch(texts: readonly string[], opts: EncodeBatchOptions = {}): IntTensor {
    const where = 'Vocabulary.encodeBatch';
    if (!Array.isArray(texts)) invalid(where, 'texts', 'an array of strings', texts);
    const o = checkOptions(where, opts, ['addBos', 'addEos', 'length']);
    const rows = texts.map((t) => this.encode(t, { addBos: o.addBos, addEos: o.addEos }));
    const length = o.length === undefined ? rows.reduce((m, r) => Math.max(m, r.length), 0) : checkPositiveInt(where, 'length', o.length);
    const out = new Int32Array(rows.length * length);
    rows.forEach((r, i) => {
      if (r.length < length) {
        if (this.padId === null) throw argumentError(where, `text ${i} has ${r.length} tokens, fewer than length ${length}, and the vocabulary has no pad token`);
        out.fill(this.padId, i * length + r.length, (i + 1) * length);
      }
      out.set(r.subarray(0, length), i * length);
    });
    return new IntTensor(out, [rows.length, length]);
  }

  /**
   * The text of ids (characters joined, words joined by spaces), without pad/bos/eos unless skipSpecial is false.
   * @param ids the ids (an array, an Int32Array or an IntTensor).
   * @param opts skipSpecial: leave out pad, bos and eos (default true).
   * @throws Error when ids has the wrong type, an option is unknown, or an id is out of range.
   * @example vocab.decode(vocab.encode('hello')) // 'hello'
   */
  decode(ids: ArrayLike<number> | IntTensor, opts: DecodeOptions = {}): string {
    const o = checkOptions('Vocabulary.decode', opts, ['skipSpecial']);
    const skip = o.skipSpecial === undefined ? true : checkBoolean('Vocabulary.decode', 'skipSpecial', o.skipSpecial);
    const list = ids instanceof IntTensor ? ids.data : ids;
    if (list === null || typeof list !== 'object' || typeof (list as ArrayLike<number>).length !== 'number') {
      invalid('Vocabulary.decode', 'ids', 'an array of ids, an Int32Array or an IntTensor', ids);
    }
    const hidden = new Set([this.padId, this.bosId, this.eosId]);
    const out: string[] = [];
    for (let i = 0; i < list.length; i++) {
      const id = list[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) {
        throw argumentError('Vocabulary.decode', `id ${describe(id)} at position ${i} is not in [0, ${this.tokens.length - 1}]`);
      }
      if (skip && hidden.has(id)) continue;
      out.push(this.tokens[id]);
    }
    return out.join(this.level === 'char' ? '' : ' ');
  }

  private frame(where: string, o: EncodeOptions): [number | null, number | null] {
    const addBos = o.addBos === undefined ? false : checkBoolean(where, 'addBos', o.addBos);
    const addEos = o.addEos === undefined ? false : checkBoolean(where, 'addEos', o.addEos);
    if (addBos && this.bosId === null) throw argumentError(where, 'addBos is true but the vocabulary has no bos token');
    if (addEos && this.eosId === null) throw argumentError(where, 'addEos is true but the vocabulary has no eos token');
    return [addBos ? this.bosId : null, addEos ? this.eosId : null];
  }
}

/** The special tokens with defaults filled in (strict: every key present, as fromJSON needs). */
function specialsOf(where: string, given: unknown, strict = false): VocabularyJson['specials'] {
  if (given !== undefined && !isPlainObject(given)) invalid(where, 'specials', 'an object { pad, unk, bos, eos } of strings or null', given);
  const g = (given ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(g)) if (!(SPECIAL_KEYS as readonly string[]).includes(k)) throw argumentError(where, `specials has no key '${k}' (its keys: pad, unk, bos, eos)`);
  const out = { ...DEFAULT_SPECIALS } as VocabularyJson['specials'];
  const seen = new Set<string>();
  for (const k of SPECIAL_KEYS) {
    if (strict && !(k in g)) throw argumentError(where, `specials.${k} is missing`);
    if (!(k in g) || g[k] === undefined) continue;
    const v = g[k];
    if (v !== null && (typeof v !== 'string' || v.length === 0)) invalid(where, `specials.${k}`, 'a non-empty string or null', v);
    out[k] = v as string | null;
  }
  for (const k of SPECIAL_KEYS) {
    const v = out[k];
    if (v === null) continue;
    if (seen.has(v)) throw argumentError(where, `specials: ${describe(v)} is given for two special tokens`);
    seen.add(v);
  }
  return out;
}

/**
 * A character-level vocabulary fitted on texts (Vocabulary.fit with level 'char').
 * @param texts the text, or texts, to fit on.
 * @param opts specials, lowercase (default false), minFrequency (default 1), maxTokens (default all), order ('frequency' default, or 'alphabetical').
 * @returns the fitted Vocabulary.
 * @throws Error for an unknown or bad option, or texts that are not a string or strings.
 * @example
 * ```ts
 * const vocab = data.charVocabulary(['hello', 'world']); vocab.encode('hello') // Int32Array of ids
 * ```
 */
export function charVocabulary(texts: string | readonly string[], opts: Omit<VocabularyOptions, 'level'> = {}): Vocabulary {
  return Vocabulary.fit(texts, { ...opts, level: 'char' });
}

/**
 * A word-level vocabulary fitted on texts (Vocabulary.fit with level 'word').
 * @param texts the text, or texts, to fit on.
 * @param opts specials, lowercase (default false), minFrequency (default 1), maxTokens (default all), order ('frequency' default, or 'alphabetical').
 * @returns the fitted Vocabulary.
 * @throws Error for an unknown or bad option, or texts that are not a string or strings.
 * @example
 * ```ts
 * const vocab = data.wordVocabulary(texts, { lowercase: true, maxTokens: 20_000 });
 * ```
 */
export function wordVocabulary(texts: string | readonly string[], opts: Omit<VocabularyOptions, 'level'> = {}): Vocabulary {
  return Vocabulary.fit(texts, { ...opts, level: 'word' });
}
