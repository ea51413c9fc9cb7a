// Raw text through a vocabulary for the CLI (--vocab): reading a text column (or lines of text), building or loading
// the Vocabulary, and turning the texts into rows of token ids of one length (padded with pad, cut at the end) that
// the token-id paths of `train --embedding` and `predict` read.
import * as path from 'path';
import { Vocabulary } from '../data/text';
import { splitCsvLine } from '../data/csv';
import { readRegularFileSync } from '../io/read-file';
import { UsageError } from './args';

/** Longest --seq-len accepted (and the cap of the default, the longest text). */
export const MAX_TEXT_LENGTH = 4096;

/** Texts read from a file: one per line (.txt), or a CSV column; with the label cells when asked for. */
export interface TextTable {
  texts: string[];
  /** The label column's cells (train), else null. */
  labels: string[] | null;
  /** The label column's header name (or 'label'). */
  labelName: string;
  /** The text column's header name, or its index. */
  textColumn: string | number;
}

export interface TextTableOptions {
  /** The text column: a header name or a 0-based index (default: 'text' when the header has it, else the first column that is not the label). */
  textColumn?: string;
  /** The label column ('last', a name or an index); null: no label (predict). */
  labelColumn: string | null;
  delimiter?: string;
  /** The first line names the columns (default true for CSV). */
  header?: boolean;
  /** The flag errors name (--data or --input). */
  flag: string;
}

/** True for a file read as lines of text (no columns). */
const isLines = (file: string): boolean => /\.txt$/i.test(file);

/** A column given by name or index among the header's names. */
function columnIndex(spec: string, names: string[] | null, count: number, flag: string, what: string): number {
  if (spec === 'last') return count - 1;
  if (/^-?[0-9]+$/.test(spec)) {
    const i = Number(spec) < 0 ? count + Number(spec) : Number(spec);
    if (i < 0 || i >= count) throw new UsageError(`${what} ${spec} is out of range: ${flag} has ${count} column(s)`);
    return i;
  }
  const i = names === null ? -1 : names.indexOf(spec);
  if (i < 0) throw new UsageError(`${what} '${spec}' is not a column of ${flag} (${names === null ? 'it has no header: give an index' : `columns: ${names.join(', ')}`})`);
  return i;
}

/**
 * Reads the texts (and labels) of `file`: a .txt file is one text per line (empty lines skipped; no labels), any
 * other file a CSV with a header whose text column is --text-column (default 'text', else the first non-label column).
 * Throws a UsageError naming the flag, the file and the row for anything it cannot read.
 */
export function readTextTable(file: string, o: TextTableOptions): TextTable {
  let raw: string;
  try {
    raw = readRegularFileSync(file, { maxBytes: 1 << 30 }, o.flag).toString('utf8');
  } catch (err) {
    throw new UsageError(`${o.flag}: ${(err as Error).message}`);
  }
  const lines = raw.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (isLines(file)) {
    if (o.labelColumn !== null) throw new UsageError(`${o.flag} ${file}: a .txt file holds texts only; training with --vocab needs a CSV with a text column and a label column`);
    const texts = lines.filter((l) => l.trim() !== '');
    if (texts.length === 0) throw new UsageError(`${o.flag} ${file} has no text lines`);
    return { texts, labels: null, labelName: 'label', textColumn: 0 };
  }
  const delimiter = o.delimiter ?? (lines[0]?.includes('\t') && !lines[0].includes(',') ? '\t' : ',');
  const header = o.header ?? true;
  const rows = lines.map((l) => splitCsvLine(l, delimiter));
  const names = header ? rows.shift() ?? null : null;
  if (rows.length === 0) throw new UsageError(`${o.flag} ${file} has no data rows`);
  const count = (names ?? rows[0]).length;
  const label = o.labelColumn === null ? -1 : columnIndex(o.labelColumn, names, count, o.flag, '--label-column');
  const text = o.textColumn !== undefined
    ? columnIndex(o.textColumn, names, count, o.flag, '--text-column')
    : names !== null && names.includes('text') ? names.indexOf('text') : label === 0 ? 1 : 0;
  if (text === label) throw new UsageError(`--text-column and --label-column are both column ${text} of ${o.flag}`);
  if (text >= count) throw new UsageError(`${o.flag} ${file} has ${count} column(s): no text column besides the label (give --text-column)`);
  const texts: string[] = [];
  const labels: string[] = [];
  rows.forEach((r, i) => {
    if (r.length !== count) throw new UsageError(`${o.flag} ${file}, data row ${i + 1}: ${r.length} field(s), expected ${count} (one row per line; quote fields holding '${delimiter}')`);
    texts.push(r[text]);
    if (label >= 0) labels.push(r[label]);
  });
  return { texts, labels: label >= 0 ? labels : null, labelName: names !== null && label >= 0 ? names[label] : 'label', textColumn: names !== null ? names[text] : text };
}

/** --vocab: 'char' or 'word' (fitted on the texts), or a vocabulary JSON file (Vocabulary.toJSON()). */
export function vocabularyOf(spec: string, texts: string[]): Vocabulary {
  if (spec === 'char' || spec === 'word') return Vocabulary.fit(texts, { level: spec });
  if (path.extname(spec).toLowerCase() !== '.json') throw new UsageError(`--vocab must be 'char', 'word' or a vocabulary .json file (Vocabulary.toJSON()), got '${spec}'`);
  let json: unknown;
  try {
    json = JSON.parse(readRegularFileSync(spec, { maxBytes: 256 * 1024 * 1024 }, '--vocab').toString('utf8'));
    return Vocabulary.fromJSON(json);
  } catch (err) {
    throw new UsageError(`--vocab ${spec}: ${(err as Error).message}`);
  }
}

/** Rows of `length` token ids per text (unknown tokens -> unk as the Vocabulary does; padded with pad, cut at the end). */
export function encodeTexts(vocab: Vocabulary, texts: string[], length: number, flag: string): Int32Array {
  try {
    return vocab.encodeBatch(texts, { length }).data;
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

/** A row length for the texts: --seq-len, else the longest text's token count (at most MAX_TEXT_LENGTH). */
export function textLength(vocab: Vocabulary, texts: string[], given: number | undefined): number {
  if (given !== undefined) {
    if (given > MAX_TEXT_LENGTH) throw new UsageError(`--seq-len must be at most ${MAX_TEXT_LENGTH}, got ${given}`);
    return given;
  }
  const longest = texts.reduce((m, t) => Math.max(m, vocab.tokenize(t).length), 1);
  return Math.min(longest, MAX_TEXT_LENGTH);
}

/** A CSV field, quoted when it must be. */
const field = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** Token-id rows (and labels) as CSV text with a header t0..t{L-1}[,label]: what the token-id reading paths take. */
export function idsCsv(ids: Int32Array, length: number, labels: string[] | null, labelName: string): string {
  const out: string[] = [[...Array.from({ length }, (_, i) => `t${i}`), ...(labels !== null ? [field(labelName)] : [])].join(',')];
  const n = ids.length / length;
  for (let r = 0; r < n; r++) {
    const row = Array.from(ids.subarray(r * length, (r + 1) * length), String);
    if (labels !== null) row.push(field(labels[r]));
    out.push(row.join(','));
  }
  return out.join('\n') + '\n';
}
