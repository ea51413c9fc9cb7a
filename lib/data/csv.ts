// Streaming CSV reader: header detection, delimiter, label column, gzip, missing values, text columns, bounded-memory row batches parsed off the main thread.
import { Readable } from 'stream';
import {
  parseBlock, splitCsvLine, numberOf, isMissing, BlockConfig, ParsedBlock, ColumnKind, LabelMode, MissingPolicy,
} from './csv-parse';
import { ParsePool, parseWorkerScript, defaultParseWorkers } from './csv-pool';
import { checkOptions, describe } from '../validate';
import type { RowTransform } from './row-transform';
import { openBytes, LineSplitter, LineBlock, blockBytes } from './csv-lines';

export { splitCsvLine, MISSING_TOKENS } from './csv-parse';
export { LineSplitter, blockBytes } from './csv-lines';
export type { LineBlock, LineScanStats } from './csv-lines';

/** Which column holds the label: a header name, a 0-based index, 'last', or null for none. */
export type LabelColumn = string | number | 'last' | null;

/** Default longest line readCsv / readCsvBatches accept, in bytes (32 MiB). */
export const DEFAULT_MAX_LINE_LENGTH = 32 * 1024 * 1024;
/** Default largest number of columns accepted. */
export const DEFAULT_MAX_COLUMNS = 1_000_000;
/** A batch buffer holds at most this many values: very wide rows make batches of fewer rows. */
export const MAX_BATCH_VALUES = 1 << 24;
/** In task 'auto', integer labels in [0, AUTO_MAX_CLASSES) are classes; other numbers are regression targets. */
export const AUTO_MAX_CLASSES = 50;
/** From this many bytes of input, 'auto' parsing moves to worker threads (when the compiled worker exists). */
export const WORKER_THRESHOLD_BYTES = 4 * 1024 * 1024;

/** How missing cells (empty, NA, N/A, NaN, nan, null, NULL) are handled. */
export type MissingOption = 'error' | 'drop' | 'mean' | 'keep';

/** Options of data.readCsv: delimiter, header, label and ignored columns, task, missing values, one-hot columns, batching, workers and limits. */
export interface CsvOptions {
  /** Field separator (one character). Default: auto-detect ',', ';' or tab from the first line. */
  delimiter?: string;
  /**
   * true: the first line is a header; false: data; 'auto' (default): the first line is a header when
   * none of its cells is a number, or when it contains every name in `headerNames`. A first line that
   * mixes numbers and text is an error naming its first non-numeric cell (a typo in the first data row
   * must not silently become a header).
   */
  header?: boolean | 'auto';
  /** Column names that mark the first line as a header even if some are numeric (e.g. a model's saved feature names). */
  headerNames?: readonly string[];
  /**
   * The feature columns the file must have, in order (e.g. the columns a model was trained on). The
   * header must list exactly these (plus the label column, if one is chosen); any difference is an
   * error naming the missing, unexpected or reordered columns.
   */
  expectColumns?: readonly string[];
  /** Label column. Default null (all columns are features). Training code usually passes 'last'. */
  labelColumn?: LabelColumn;
  /** Header names of columns to skip when the file has them (e.g. a model's label column in a file to predict). */
  ignoreColumns?: readonly string[];
  /**
   * Missing cells (empty, NA, N/A, NaN, nan, null, NULL): 'error' (default: names the line and column),
   * 'drop' (skip rows that have one), 'mean' (readCsv: fill with the column's mean; a text column gets
   * no category), 'keep' (readCsvBatches: leave NaN, for a fitted Preprocessor to fill). A missing
   * label is an error unless rows are dropped.
   */
  missing?: MissingOption;
  /**
   * Text feature columns as one-hot columns: true (every column with text in the first rows), or a
   * list of column names / 0-based indices. Default false: a text cell in a feature column is an error
   * naming the column and this option. readCsv only (categories need the whole file), unless
   * `categories` gives them.
   */
  oneHot?: boolean | ReadonlyArray<string | number>;
  /**
   * Known categories of one-hot columns, by header name (or 0-based index as a string when the file
   * has no header), e.g. a fitted Preprocessor's. A value not in the list is an error.
   */
  categories?: Readonly<Record<string, readonly string[]>>;
  /**
   * readCsv: how the label column becomes y. 'auto' (default): text labels are classes (y: Int32Array of
   * indices into classNames, sorted), integers in [0, 50) are classes (y: Int32Array of those integers),
   * anything else is a regression target (y: Float32Array); table.taskReason says why.
   */
  task?: 'auto' | 'classification' | 'regression';
  /** readCsvBatches: the class names of a text label column (labels become their indices). */
  classNames?: readonly string[];
  /**
   * readCsvBatches: a fitted Preprocessor (e.g. a loaded model's `model.preprocessor`) whose input side
   * (NaN fill, standardisation) is applied to the rows as they are parsed, on the parse threads: the
   * batches are ready for the model's network (so do not run them through the preprocessor again).
   */
  preprocessor?: { rowTransform(): RowTransform | null } | null;
  /** Rows per yielded batch (fewer when batchSize x columns would exceed MAX_BATCH_VALUES). Default 1024. */
  batchSize?: number;
  /** Longest line accepted, in bytes; a longer line is an error naming it. Default DEFAULT_MAX_LINE_LENGTH (32 MiB). */
  maxLineLength?: number;
  /** Most columns accepted; a wider line is an error naming it. Default DEFAULT_MAX_COLUMNS (1,000,000). */
  maxColumns?: number;
  /**
   * Parser threads: 0 parses on the calling thread; n > 0 uses n worker threads; 'auto' (default)
   * moves to min(4, cores) workers once the input passes 4 MiB. Batches come back in file order either way.
   */
  workers?: number | 'auto';
  /** Name used in error messages (default: the path, or 'stdin'/'stream'). */
  source?: string;
}

/** One batch of parsed rows. */
export interface CsvBatch {
  /** Features, row-major [rows, features]. */
  x: Float32Array;
  /** Labels (as numbers) when a label column was chosen, else null. */
  y: Float32Array | null;
  rows: number;
  features: number;
  /** 1-based line number of the batch's first line in the file. */
  firstLine: number;
  /** Header names of the features (one-hot columns as 'column=value'); null when the file has no header. */
  featureNames: string[] | null;
  /** Header name of the label column, if any. */
  labelName: string | null;
  /** Rows of this batch's lines skipped for missing values (missing: 'drop'). */
  dropped: number;
  /** Cells left NaN (missing: 'keep'). */
  missingCells: number;
}

/** How a file's columns became x: readCsv fills it in, a Preprocessor stores it to read new files the same way. */
export interface CsvSchema {
  /** Header names of the feature columns as they are in the file (before one-hot), or null without a header. */
  columns: string[] | null;
  /** Number of feature columns in the file (before one-hot). */
  columnCount: number;
  /** Header name of the label column (null: none, or no header). */
  labelName: string | null;
  /** Categories of one-hot columns, keyed like CsvOptions.categories. */
  categories: Record<string, string[]>;
}

/** A whole CSV file in memory (see readCsv). */
export interface CsvTable {
  x: Float32Array;
  /** Int32Array of classes (task 'classification'), Float32Array of targets ('regression'), or null without a label column. */
  y: Float32Array | Int32Array | null;
  n: number;
  features: number;
  featureNames: string[] | null;
  labelName: string | null;
  /** Class names when the labels were text (y holds indices into it). */
  classNames: string[] | null;
  /** What y is for (null without a label column). */
  task: 'classification' | 'regression' | null;
  /** Why `task` was chosen, for a report (e.g. "labels are text: 3 classes"). */
  taskReason: string | null;
  /** Rows skipped for missing values (missing: 'drop'). */
  dropped: number;
  /** Cells filled (missing: 'mean'). */
  filled: number;
  /** The values missing cells were filled with, per feature (missing: 'mean'), else null. */
  fill: Float32Array | null;
  schema: CsvSchema;
}

function detectDelimiter(line: string): string {
  for (const d of [',', '\t', ';']) if (line.includes(d)) return d;
  return ',';
}

function limitOption(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`csv: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

const OPTION_KEYS = [
  'delimiter', 'header', 'headerNames', 'expectColumns', 'labelColumn', 'ignoreColumns', 'missing', 'oneHot', 'categories', 'task', 'classNames', 'preprocessor',
  'batchSize', 'maxLineLength', 'maxColumns', 'workers', 'source',
];

/** Checks the options object: unknown keys (with the closest known one) and each value's type. */
function checkCsvOptions(options: CsvOptions, op: 'readCsv' | 'readCsvBatches'): void {
  checkOptions(`csv: ${op}`, options, OPTION_KEYS);
  const m = options.missing;
  const allowed = op === 'readCsv' ? ['error', 'drop', 'mean'] : ['error', 'drop', 'keep'];
  if (m !== undefined && !allowed.includes(m)) {
    const why = m === 'mean' ? " ('mean' needs the whole file: use readCsv, or 'keep' and a fitted Preprocessor)" : m === 'keep' ? " ('keep' is for readCsvBatches; readCsv fills with 'mean')" : '';
    throw new Error(`csv: ${op}: missing must be ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(m)}${why}`);
  }
  const t = options.task;
  if (t !== undefined && t !== 'auto' && t !== 'classification' && t !== 'regression') {
    throw new Error(`csv: task must be 'auto', 'classification' or 'regression', got ${describe(t)}`);
  }
  const oh = options.oneHot;
  if (oh !== undefined && typeof oh !== 'boolean' && !(Array.isArray(oh) && oh.every((c) => typeof c === 'string' || (Number.isInteger(c) && c >= 0)))) {
    throw new Error(`csv: oneHot must be true, false or a list of column names / 0-based indices, got ${describe(oh)}`);
  }
  const w = options.workers;
  if (w !== undefined && w !== 'auto' && !(Number.isInteger(w) && w >= 0 && w <= 64)) {
    throw new Error(`csv: workers must be 'auto' or an integer in [0, 64], got ${describe(w)}`);
  }
  const lists: [string, unknown][] = [['headerNames', options.headerNames], ['expectColumns', options.expectColumns], ['ignoreColumns', options.ignoreColumns], ['classNames', options.classNames]];
  for (const [name, v] of lists) {
    if (v !== undefined && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) throw new Error(`csv: ${name} must be a list of strings, got ${describe(v)}`);
  }
  const cats = options.categories;
  if (cats !== undefined && (cats === null || typeof cats !== 'object' || !Object.values(cats).every((v) => Array.isArray(v) && v.every((s) => typeof s === 'string')))) {
    throw new Error('csv: categories must map column names to lists of strings');
  }
}

/** The layout of x: per raw column its kind and first slot, and the feature names (one-hot columns as 'name=value'). */
function layout(kinds: number[], categories: (string[] | null)[], names: string[] | null): { offsets: number[]; width: number; featureNames: string[] | null } {
  const offsets: number[] = [];
  const featureNames: string[] | null = names === null ? null : [];
  let width = 0;
  for (let c = 0; c < kinds.length; c++) {
    if (kinds[c] === ColumnKind.Skip) { offsets.push(-1); continue; }
    offsets.push(width);
    if (kinds[c] === ColumnKind.OneHot) {
      for (const v of categories[c]!) featureNames?.push(`${names![c]}=${v}`);
      width += categories[c]!.length;
    } else {
      featureNames?.push(names![c]);
      width++;
    }
  }
  return { offsets, width, featureNames };
}

type Fail = (msg: string) => never;

/**
 * Whether the first line is a header: as `header` says, or ('auto') when none of its cells is a
 * number or it names every wanted column. A line of numbers with a text cell is data when the text
 * is a missing value (or a category, with oneHot), else an error: a typo must not become a header.
 */
function decideHeader(fields: string[], options: CsvOptions, headerOpt: boolean | 'auto', lineNo: number, fail: Fail): boolean {
  if (headerOpt !== 'auto') return headerOpt;
  const wanted = options.headerNames ?? options.expectColumns;
  if (wanted !== undefined && wanted.length > 0) {
    const cells = new Set(fields.map((f) => f.trim()));
    if (wanted.every((n) => cells.has(n))) return true;
  }
  let firstText = -1;
  let numeric = 0;
  for (let c = 0; c < fields.length; c++) {
    if (Number.isNaN(numberOf(fields[c].trim()))) { if (firstText < 0) firstText = c; } else numeric++;
  }
  if (numeric === 0) return true;
  if (firstText < 0) return false;
  const allowsText = (options.oneHot !== undefined && options.oneHot !== false) || options.categories !== undefined;
  if (allowsText || fields.every((f) => !Number.isNaN(numberOf(f.trim())) || isMissing(f.trim()))) return false;
  return fail(
    `line ${lineNo}, column ${firstText + 1}: '${fields[firstText]}' is not a number, but ${numeric} other cell(s) of ` +
      'the first line are numbers, so it is neither a header nor a data row (fix the value, or pass header: true / ' +
      '--header if the line is a header)',
  );
}

/** The 0-based label column (-1: none) from labelColumn: 'last', an index (negative from the end), or a header name. */
function labelIndexOf(lc: LabelColumn, names: string[] | null, columns: number, fail: Fail): number {
  if (lc === null) return -1;
  if (lc === 'last') return columns - 1;
  if (typeof lc === 'number') {
    if (!Number.isInteger(lc) || lc < -columns || lc >= columns) fail(`label column index ${lc} is out of range for ${columns} columns`);
    return lc < 0 ? columns + lc : lc;
  }
  if (typeof lc !== 'string') return fail(`labelColumn must be a column name, a 0-based index, 'last' or null, got ${JSON.stringify(lc)}`);
  if (names === null) {
    const asIndex = Number(lc);
    if (Number.isInteger(asIndex) && asIndex >= 0 && asIndex < columns) return asIndex;
    return fail(`label column '${lc}' given by name but the file has no header line`);
  }
  const i = names.indexOf(lc);
  if (i < 0) fail(`no column named '${lc}' in the header (columns: ${names.join(', ')})`);
  return i;
}

/** Refuses feature columns that differ from a model's (`want`), naming the missing, unexpected or reordered ones. */
function checkExpectedColumns(want: readonly string[], names: string[] | null, featureColumns: number[], labelIndex: number, fail: Fail): void {
  if (names === null) {
    if (featureColumns.length !== want.length) {
      const hint = featureColumns.length === want.length + 1 && labelIndex < 0 ? ' (is there a label column? skip it with labelColumn / --label-column)' : '';
      fail(`rows have ${featureColumns.length} feature columns, the model was trained on ${want.length} (${want.join(', ')})${hint}`);
    }
    return;
  }
  const have = featureColumns.map((c) => names[c]);
  if (have.length === want.length && have.every((n, i) => n === want[i])) return;
  const missing = want.filter((n) => !have.includes(n));
  const extra = have.filter((n) => !want.includes(n));
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`missing ${missing.map((n) => `'${n}'`).join(', ')}`);
  if (extra.length > 0) parts.push(`unexpected ${extra.map((n) => `'${n}'`).join(', ')}`);
  if (parts.length === 0) {
    const at = have.findIndex((n, i) => n !== want[i]);
    parts.push(`column ${at + 1} is '${have[at]}' where the model expects '${want[at]}' (same names, another order)`);
  }
  fail(`the header's columns do not match the model's: ${parts.join('; ')} (expected: ${want.join(', ')})`);
}

/** Where the reader is after the first line: the parse configuration and what the caller reports. */
interface ReadState {
  cfg: BlockConfig;
  names: string[] | null;
  labelIndex: number;
  labelName: string | null;
  featureNames: string[] | null;
  rowsPerBlock: number;
  /** Feature columns in the file, in order (raw indices). */
  featureColumns: number[];
}

/**
 * The reader both readCsvBatches and readCsv are built on: opens the input, reads the first line
 * (header or data), then yields the parsed blocks in file order, parsing ahead on worker threads when
 * the input is large. `table` selects readCsv's behaviour (label text kept, text columns discovered).
 */
async function* parsedBlocks(
  input: string | Readable, options: CsvOptions, table: boolean,
): AsyncGenerator<{ block: ParsedBlock; firstLine: number; state: ReadState }> {
  const op = table ? 'readCsv' : 'readCsvBatches';
  checkCsvOptions(options, op);
  const source = options.source ?? (typeof input === 'string' ? (input === '-' ? 'stdin' : input) : 'stream');
  const batchSize = options.batchSize ?? 1024;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`csv: batchSize must be a positive integer, got ${batchSize}`);
  if (options.delimiter !== undefined && (typeof options.delimiter !== 'string' || options.delimiter.length !== 1)) {
    throw new Error(`csv: delimiter must be one character, got '${String(options.delimiter)}'`);
  }
  const headerOpt = options.header ?? 'auto';
  if (headerOpt !== true && headerOpt !== false && headerOpt !== 'auto') {
    throw new Error(`csv: header must be true, false or 'auto', got ${JSON.stringify(headerOpt)}`);
  }
  const maxLineLength = limitOption('maxLineLength', options.maxLineLength, DEFAULT_MAX_LINE_LENGTH);
  const maxColumns = limitOption('maxColumns', options.maxColumns, DEFAULT_MAX_COLUMNS);
  const missingOpt = options.missing ?? 'error';
  if (!table && options.oneHot !== undefined && options.oneHot !== false && options.categories === undefined) {
    throw new Error('csv: readCsvBatches: oneHot needs the categories of the whole file: use readCsv, or pass categories (e.g. a fitted Preprocessor\'s)');
  }
  const fail = (msg: string): never => { throw new Error(`csv: ${source}: ${msg}`); };
  const splitter = new LineSplitter(await openBytes(input, source), maxLineLength, source);

  // ---- the first non-blank line: delimiter, columns, header ----
  const head = await splitter.next(1);
  if (head === null || head.rows === 0) fail('no data rows');
  const headLineNo = head!.firstLine + head!.lines - 1;
  let firstText = blockBytes(head!).toString('utf8');
  if (firstText.charCodeAt(0) === 0xfeff) firstText = firstText.slice(1); // byte order mark
  firstText = firstText.replace(/\r?\n$/, '');
  firstText = firstText.split('\n').filter((l) => l.trim() !== '').pop() ?? '';
  if (firstText.endsWith('\r')) firstText = firstText.slice(0, -1);
  const delimiter = options.delimiter ?? detectDelimiter(firstText);
  let quick = 1;
  for (let i = firstText.indexOf(delimiter); i >= 0; i = firstText.indexOf(delimiter, i + 1)) quick++;
  if (firstText.indexOf('"') < 0 && quick > maxColumns) {
    fail(`line ${headLineNo} has ${quick} columns, more than the maximum of ${maxColumns} (raise maxColumns / --max-columns if the file is right)`);
  }
  const fields = splitCsvLine(firstText, delimiter);
  const columns = fields.length;
  if (columns > maxColumns) fail(`line ${headLineNo} has ${columns} columns, more than the maximum of ${maxColumns} (raise maxColumns / --max-columns if the file is right)`);
  const isHeader = decideHeader(fields, options, headerOpt, headLineNo, fail);
  const names = isHeader ? fields.map((f) => f.trim()) : null;

  // ---- the label column ----
  const labelIndex = labelIndexOf(options.labelColumn ?? null, names, columns, fail);
  const ignored = new Set<number>();
  if (names !== null) for (const name of options.ignoreColumns ?? []) { const c = names.indexOf(name); if (c >= 0 && c !== labelIndex) ignored.add(c); }
  const featureColumns = Array.from({ length: columns }, (_, c) => c).filter((c) => c !== labelIndex && !ignored.has(c));
  if (featureColumns.length < 1) fail(`no feature columns left (${columns} column(s), label column ${labelIndex})`);
  const labelName = names !== null && labelIndex >= 0 ? names[labelIndex] : null;

  if (options.expectColumns !== undefined) checkExpectedColumns(options.expectColumns, names, featureColumns, labelIndex, fail);

  // ---- column kinds ----
  const kinds: number[] = new Array(columns).fill(ColumnKind.Number);
  const categories: (string[] | null)[] = new Array(columns).fill(null);
  if (labelIndex >= 0) kinds[labelIndex] = ColumnKind.Skip;
  for (const c of ignored) kinds[c] = ColumnKind.Skip;
  const columnIndex = (ref: string | number, what: string): number => {
    if (typeof ref === 'number') {
      if (ref >= columns) fail(`${what} column index ${ref} is out of range for ${columns} columns`);
      return ref;
    }
    if (names !== null) {
      const i = names.indexOf(ref);
      if (i < 0) fail(`${what}: no column named '${ref}' in the header (columns: ${names.join(', ')})`);
      return i;
    }
    const i = Number(ref);
    if (!(Number.isInteger(i) && i >= 0 && i < columns)) fail(`${what}: column '${ref}' given by name but the file has no header line`);
    return i;
  };
  for (const [key, cats] of Object.entries(options.categories ?? {})) {
    const c = columnIndex(key, 'categories');
    if (kinds[c] === ColumnKind.Skip) fail(`categories: column '${key}' is the label column or ignored`);
    kinds[c] = ColumnKind.OneHot;
    categories[c] = [...cats];
  }
  const oneHot = options.oneHot ?? false;
  if (Array.isArray(oneHot)) {
    for (const ref of oneHot) {
      const c = columnIndex(ref, 'oneHot');
      if (c === labelIndex) fail(`oneHot: column '${ref}' is the label column (string labels are encoded as classes without it)`);
      if (kinds[c] === ColumnKind.Skip) continue;
      if (kinds[c] !== ColumnKind.OneHot) kinds[c] = table ? ColumnKind.Text : fail(`oneHot: no categories given for column '${ref}'`);
    }
  }
  const discover = oneHot === true && table;
  const cliMissing = " (pass missing: 'drop' to skip such rows or 'mean' to fill with the column mean; CLI: --missing drop|mean)";
  const missingHint = table ? cliMissing : " (pass missing: 'drop' to skip such rows, or 'keep' to leave NaN for a fitted Preprocessor; CLI: --missing drop)";
  const labelMode = labelIndex < 0 ? LabelMode.None : table ? LabelMode.Text : options.classNames !== undefined ? LabelMode.Classes : LabelMode.Number;
  const parserMissing: MissingPolicy = missingOpt === 'mean' ? 'keep' : missingOpt;
  const prep = options.preprocessor ?? null;
  if (prep !== null && (table || typeof prep.rowTransform !== 'function')) {
    fail(table ? 'the preprocessor option is for readCsvBatches (readCsv reads the raw values a preprocessor is fitted on)' : `preprocessor must be a fitted data.Preprocessor, got ${describe(prep)}`);
  }
  const transform = prep === null ? null : prep.rowTransform();
  if (prep !== null && transform === null) fail('the preprocessor is not fitted');
  const readState = (): ReadState => {
    const lay = layout(kinds, categories, names);
    const cfg: BlockConfig = {
      source, delimiter: delimiter.charCodeAt(0), columns, names, kinds: [...kinds], offsets: lay.offsets,
      categories: categories.map((c) => (c === null ? null : [...c])), width: lay.width, labelIndex, labelMode,
      classNames: options.classNames === undefined ? null : [...options.classNames], missing: parserMissing, missingHint,
      labelMissing: missingOpt === 'mean' ? 'error' : parserMissing,
      labelMissingHint: missingOpt === 'mean' ? " (a label cannot be filled: pass missing: 'drop' to skip such rows; CLI: --missing drop)" : missingHint,
      textHint: table
        ? ' (a text column can be read as one-hot columns: pass oneHot: true or oneHot: [<column>]; CLI: --one-hot)'
        : ` (text columns need the categories a model was trained with; readCsv reads them with oneHot: true)`,
      transform,
    };
    if (transform !== null && transform.features !== lay.width) {
      const hint = lay.width === transform.features + 1 ? ' (does the input have a label column? pass labelColumn / --label-column)' : '';
      fail(`rows have ${lay.width} values, the model (its preprocessor) expects ${transform.features}${hint}`);
    }
    return {
      cfg, names, labelIndex, labelName, featureNames: lay.featureNames, featureColumns,
      rowsPerBlock: Math.max(1, Math.min(batchSize, Math.floor(MAX_BATCH_VALUES / Math.max(1, lay.width)))),
    };
  };
  let state = readState();

  // ---- the data blocks ----
  const workersOpt = options.workers ?? 'auto';
  const script = parseWorkerScript();
  let pool: ParsePool | null = null;
  const startPool = (): void => {
    if (pool !== null || script === null || workersOpt === 0) return;
    if (workersOpt === 'auto' && splitter.bytesRead < WORKER_THRESHOLD_BYTES) return;
    pool = new ParsePool(script, workersOpt === 'auto' ? defaultParseWorkers() : workersOpt);
  };
  const inFlight: { result: Promise<ParsedBlock>; firstLine: number }[] = [];
  const maxInFlight = (): number => (pool === null ? 1 : 2 * defaultParseWorkers());
  // A first line that is data starts the first block.
  let carry: LineBlock | null = isHeader ? null : head!;
  let discovered = !discover;
  try {
    for (;;) {
      while (inFlight.length < maxInFlight()) {
        let block = carry !== null && carry.rows >= state.rowsPerBlock ? null : await splitter.next(state.rowsPerBlock - (carry?.rows ?? 0));
        if (carry !== null) {
          block = block === null ? carry : {
            parts: [...carry.parts, ...block.parts], length: carry.length + block.length, firstLine: carry.firstLine,
            lines: carry.lines + block.lines, rows: carry.rows + block.rows,
          };
          carry = null;
        }
        if (block === null) break;
        if (block.rows === 0) continue;
        if (!discovered) {
          // oneHot: true: the columns with text in the first block become one-hot columns.
          for (;;) {
            const c = parseBlock(blockBytes(block), block.firstLine, block.rows, state.cfg).textColumn;
            if (c < 0) break;
            kinds[c] = ColumnKind.Text;
            state = readState();
          }
          discovered = true;
        }
        startPool();
        const b = block;
        const cfg = state.cfg;
        const result = pool !== null ? (pool as ParsePool).parse(b.parts, b.length, b.firstLine, b.rows, cfg) : Promise.resolve(parseBlock(blockBytes(b), b.firstLine, b.rows, cfg));
        result.catch(() => { /* awaited below, in order */ });
        inFlight.push({ result, firstLine: b.firstLine });
      }
      const next = inFlight.shift();
      if (next === undefined) break;
      const block = await next.result;
      if (block.error !== null) {
        const c = discover ? block.textColumn : -1;
        if (c >= 0) {
          const name = names === null ? String(c) : `'${names[c]}'`;
          throw new Error(`${block.error.replace(/ \(a text column can be read.*$/, '')}; column ${name} had only numbers in the first ${state.rowsPerBlock} rows, so oneHot: true did not make it a one-hot column: pass oneHot: [${name}]`);
        }
        throw new Error(block.error);
      }
      yield { block, firstLine: next.firstLine, state };
    }
  } finally {
    if (pool !== null) await (pool as ParsePool).close();
  }
}

/**
 * Reads a CSV file (or '-' for stdin, or a stream) and yields batches of rows. Memory use is bounded
 * by the batch size (at most MAX_BATCH_VALUES values per batch) and maxLineLength. Blank lines are
 * skipped. Values must be finite float32 numbers; missing values follow `missing`. Errors name the
 * source, the 1-based line and column. Large inputs are parsed ahead on worker threads.
 * @param input a file path, '-' for stdin, or a Readable stream.
 * @param options delimiter (default auto: ',', ';' or tab), header (default 'auto'), labelColumn (default null: all columns are features), missing, batchSize (rows per batch, default 1024), maxLineLength (default 32 MiB), maxColumns (default 1,000,000), workers, source (the name in errors), and the other CsvOptions.
 * @returns an async generator of batches: x [rows, features], y (or null), rows, features, the line of the first row, feature and label names, rows dropped and cells filled.
 * @throws Error naming the source, line and column for a value that is not a finite float32 number, a missing value (with missing 'error'), a line longer than maxLineLength or wider than maxColumns, a row of the wrong width, or when the input has no data rows.
 * @example
 * ```ts
 * for await (const b of data.readCsvBatches('big.csv', { labelColumn: 'last', batchSize: 4096 })) console.log(b.rows);
 * ```
 */
export async function* readCsvBatches(input: string | Readable, options: CsvOptions = {}): AsyncGenerator<CsvBatch> {
  let total = 0;
  let dropped = 0;
  for await (const { block, firstLine, state } of parsedBlocks(input, options ?? {}, false)) {
    total += block.rows;
    dropped += block.dropped;
    if (block.rows === 0) continue;
    yield {
      x: block.x, y: block.y, rows: block.rows, features: state.cfg.width, firstLine, featureNames: state.featureNames,
      labelName: state.labelName, dropped: block.dropped, missingCells: block.missingCells,
    };
  }
  if (total === 0) throw new Error(`csv: ${sourceName(input, options)}: no data rows${dropped > 0 ? ` (all ${dropped} rows had missing values and were dropped)` : ''}`);
}

function sourceName(input: string | Readable, options: CsvOptions | null | undefined): string {
  return options?.source ?? (typeof input === 'string' ? (input === '-' ? 'stdin' : input) : 'stream');
}

function concatFloat(parts: Float32Array[], total: number): Float32Array {
  if (parts.length === 1 && parts[0].length === total) return parts[0];
  const out = new Float32Array(total);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/** Sorted distinct values (code-unit order), missing cells ('') left out. */
function distinct(values: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const v of values) if (v !== '') set.add(v);
  return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Decides what the labels are (task 'auto' rule, or a forced task) and encodes them. */
function labelsOf(
  y: Float32Array, text: string[], task: 'auto' | 'classification' | 'regression', source: string,
): { y: Int32Array | Float32Array; classNames: string[] | null; task: 'classification' | 'regression'; reason: string } {
  const n = y.length;
  let firstText = -1;
  for (let i = 0; i < n; i++) if (Number.isNaN(y[i])) { firstText = i; break; }
  if (firstText >= 0) {
    if (task === 'regression') {
      throw new Error(`csv: ${source}: task 'regression' needs numeric labels, but data row ${firstText + 1} has the label '${text[firstText]}'`);
    }
    const classNames = distinct(text);
    const index = new Map(classNames.map((c, i) => [c, i]));
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = index.get(text[i])!;
    return { y: out, classNames, task: 'classification', reason: `labels are text: ${classNames.length} classes (${preview(classNames)})` };
  }
  let integral = true;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (!Number.isInteger(v)) integral = false;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const distinctCount = new Set(y).size;
  const span = `${distinctCount} distinct value(s) in [${lo}, ${hi}]`;
  if (task === 'classification' || (task === 'auto' && integral && lo >= 0 && hi < AUTO_MAX_CLASSES)) {
    if (!integral || lo < 0) {
      const bad = y.findIndex((v) => !(Number.isInteger(v) && v >= 0));
      throw new Error(`csv: ${source}: task 'classification' needs labels that are text or non-negative integers; data row ${bad + 1} has ${y[bad]}`);
    }
    return {
      y: Int32Array.from(y), classNames: null, task: 'classification',
      reason: `labels are integers, ${span}${task === 'auto' ? `: classes (integers in [0, ${AUTO_MAX_CLASSES}) are read as classes; task 'regression' / --task regression fits them as numbers)` : ''}`,
    };
  }
  return {
    y, classNames: null, task: 'regression',
    reason: `labels are ${integral ? 'integers' : 'numbers'}, ${span}: regression` +
      (task === 'auto' ? ` (only text or integers in [0, ${AUTO_MAX_CLASSES}) are read as classes; task 'classification' / --task classification forces it)` : ''),
  };
}

function preview(list: readonly string[]): string {
  return list.length <= 6 ? list.join(', ') : `${list.slice(0, 5).join(', ')}, ... ${list[list.length - 1]}`;
}

/**
 * Reads a whole CSV into memory (for training data): numbers, string labels (encoded as classes, their
 * names kept), missing values (error, drop or mean), text columns (error or one-hot). Same options as
 * readCsvBatches, plus `task` and missing: 'mean'.
 * @param input a file path, '-' for stdin, or a Readable stream.
 * @param options the options of readCsvBatches, plus task ('auto' default, 'classification' or 'regression'), missing ('error' default, 'drop' or 'mean': a column's mean) and oneHot.
 * @returns the table: x [n, features], y (class indices or numbers, or null without a label column), n, features, feature and label names, class names, the task chosen and why, rows dropped and cells filled.
 * @throws Error naming the source, line and column for a bad value, a missing value with missing 'error', a text column without oneHot, or when the input has no data rows.
 * @example
 * ```ts
 * const t = await data.readCsv('iris.csv', { labelColumn: 'last' });
 * await fit(model, { x: t.x, y: t.y!, features: t.features }, { epochs: 20 });
 * ```
 */
export async function readCsv(input: string | Readable, options: CsvOptions = {}): Promise<CsvTable> {
  const opts = options ?? {};
  const xs: Float32Array[] = [];
  const ys: Float32Array[] = [];
  const labelText: string[] = [];
  const texts: (string[] | null)[][] = [];
  let n = 0;
  let dropped = 0;
  let state: ReadState | null = null;
  for await (const r of parsedBlocks(input, { batchSize: 8192, ...opts }, true)) {
    state = r.state;
    const b = r.block;
    dropped += b.dropped;
    if (b.rows === 0) continue;
    xs.push(b.x);
    if (b.y !== null) ys.push(b.y);
    if (b.labelText !== null) for (const t of b.labelText) labelText.push(t);
    texts.push(b.text ?? []);
    n += b.rows;
  }
  const source = sourceName(input, opts);
  if (state === null || n === 0) throw new Error(`csv: ${source}: no data rows${dropped > 0 ? ` (all ${dropped} rows had missing values and were dropped)` : ''}`);
  const st: ReadState = state;
  let width = st.cfg.width;
  let x = concatFloat(xs, n * width);
  const kinds = [...st.cfg.kinds];
  const categories = st.cfg.categories.map((c) => (c === null ? null : [...c]));

  // Text columns: categories from the whole file, then one-hot in place.
  const textCols = kinds.map((k, c) => (k === ColumnKind.Text ? c : -1)).filter((c) => c >= 0);
  if (textCols.length > 0) {
    const columnText = (c: number): string[] => texts.flatMap((t) => t[c] ?? []);
    const values = new Map<number, string[]>();
    for (const c of textCols) {
      values.set(c, columnText(c));
      categories[c] = distinct(values.get(c)!);
      kinds[c] = ColumnKind.OneHot;
    }
    const lay = layout(kinds, categories, st.names);
    const out = new Float32Array(n * lay.width);
    const oldOffsets = st.cfg.offsets;
    for (let c = 0; c < kinds.length; c++) {
      if (kinds[c] === ColumnKind.Skip) continue;
      const from = oldOffsets[c];
      const to = lay.offsets[c];
      if (values.has(c)) {
        const vals = values.get(c)!;
        const index = new Map(categories[c]!.map((v, i) => [v, i]));
        for (let r = 0; r < n; r++) {
          const k = vals[r] === '' ? -1 : index.get(vals[r])!;
          if (k >= 0) out[r * lay.width + to + k] = 1; // a missing cell (missing: 'mean') has no category: all zeros
        }
      } else {
        for (let r = 0; r < n; r++) out[r * lay.width + to] = x[r * width + from];
      }
    }
    x = out;
    width = lay.width;
    st.featureNames = lay.featureNames;
  }

  // Missing values: the column means of the rows that have them.
  let fill: Float32Array | null = null;
  let filled = 0;
  if (opts.missing === 'mean') {
    const sum = new Float64Array(width);
    const count = new Float64Array(width);
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (v === v) { sum[i % width] += v; count[i % width]++; }
    }
    fill = new Float32Array(width);
    for (let f = 0; f < width; f++) {
      if (count[f] === 0) {
        const name = st.featureNames === null ? `feature ${f + 1}` : `'${st.featureNames[f]}'`;
        throw new Error(`csv: ${source}: column ${name} has no values at all (every cell is missing), so it has no mean to fill with: drop the column`);
      }
      fill[f] = sum[f] / count[f];
    }
    for (let i = 0; i < x.length; i++) if (x[i] !== x[i]) { x[i] = fill[i % width]; filled++; }
  }

  let y: Float32Array | Int32Array | null = null;
  let classNames: string[] | null = null;
  let task: CsvTable['task'] = null;
  let taskReason: string | null = null;
  if (st.labelIndex >= 0) {
    const l = labelsOf(concatFloat(ys, n), labelText, opts.task ?? 'auto', source);
    y = l.y;
    classNames = l.classNames;
    task = l.task;
    taskReason = l.reason;
  }
  const schemaCategories: Record<string, string[]> = {};
  for (let c = 0; c < kinds.length; c++) if (kinds[c] === ColumnKind.OneHot) schemaCategories[st.names === null ? String(c) : st.names[c]] = categories[c]!;
  return {
    x, y, n, features: width, featureNames: st.featureNames, labelName: st.labelName, classNames, task, taskReason, dropped, filled, fill,
    schema: {
      columns: st.names === null ? null : st.featureColumns.map((c) => st.names![c]),
      columnCount: st.featureColumns.length,
      labelName: st.labelName,
      categories: schemaCategories,
    },
  };
}

