// Streaming numeric CSV reader: header detection, delimiter, label column, gzip, bounded-memory row batches.
import * as fs from 'fs';
import * as zlib from 'zlib';
import { Readable } from 'stream';

/** Which column holds the label: a header name, a 0-based index, 'last', or null for none. */
export type LabelColumn = string | number | 'last' | null;

/** Default longest line readCsv / readCsvBatches accept, in characters (32 Mi). */
export const DEFAULT_MAX_LINE_LENGTH = 32 * 1024 * 1024;
/** Default largest number of columns accepted. */
export const DEFAULT_MAX_COLUMNS = 1_000_000;
/** A batch buffer holds at most this many values: very wide rows make batches of fewer rows. */
export const MAX_BATCH_VALUES = 1 << 24;

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
  /** Label column. Default null (all columns are features). Training code usually passes 'last'. */
  labelColumn?: LabelColumn;
  /** Rows per yielded batch (fewer when batchSize x columns would exceed MAX_BATCH_VALUES). Default 1024. */
  batchSize?: number;
  /** Longest line accepted, in characters; a longer line is an error naming it. Default DEFAULT_MAX_LINE_LENGTH (32 Mi). */
  maxLineLength?: number;
  /** Most columns accepted; a wider line is an error naming it. Default DEFAULT_MAX_COLUMNS (1,000,000). */
  maxColumns?: number;
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
  /** 1-based line number of the batch's first row in the file. */
  firstLine: number;
  /** Header names of the feature columns (null when the file has no header). */
  featureNames: string[] | null;
  /** Header name of the label column, if any. */
  labelName: string | null;
}

/** A whole CSV file in memory (see readCsv). */
export interface CsvTable {
  x: Float32Array;
  y: Float32Array | null;
  n: number;
  features: number;
  featureNames: string[] | null;
  labelName: string | null;
}

/**
 * Splits one CSV line into fields (RFC 4180 quoting within a line: "a,b" and "" escapes). Linear in
 * the line length: it copies slices between quotes and delimiters, never one character at a time.
 */
export function splitCsvLine(line: string, delimiter: string): string[] {
  if (line.indexOf('"') < 0) return line.split(delimiter);
  const out: string[] = [];
  let parts: string[] = [];
  const endField = (): void => {
    out.push(parts.length === 1 ? parts[0] : parts.join(''));
    parts = [];
  };
  let quoted = false;
  let i = 0;
  let nextQuote = line.indexOf('"');
  let nextDelim = line.indexOf(delimiter);
  for (;;) {
    if (nextQuote >= 0 && nextQuote < i) nextQuote = line.indexOf('"', i);
    if (quoted) {
      if (nextQuote < 0) { parts.push(line.slice(i)); endField(); return out; }
      parts.push(line.slice(i, nextQuote));
      if (line.charCodeAt(nextQuote + 1) === 34 /* " */) { parts.push('"'); i = nextQuote + 2; } else { quoted = false; i = nextQuote + 1; }
      continue;
    }
    if (nextDelim >= 0 && nextDelim < i) nextDelim = line.indexOf(delimiter, i);
    if (nextDelim >= 0 && (nextQuote < 0 || nextDelim < nextQuote)) {
      parts.push(line.slice(i, nextDelim));
      endField();
      i = nextDelim + 1;
    } else if (nextQuote >= 0) {
      parts.push(line.slice(i, nextQuote));
      quoted = true;
      i = nextQuote + 1;
    } else {
      parts.push(line.slice(i));
      endField();
      return out;
    }
  }
}

/** Fields of a line without quotes (an upper bound when it has quotes), counted without splitting. */
function countFields(line: string, delimiter: string): number {
  let n = 1;
  for (let i = line.indexOf(delimiter); i >= 0; i = line.indexOf(delimiter, i + 1)) n++;
  return n;
}

/** Parses a numeric field; NaN for empty fields and anything that is not a number literal. */
function parseNumber(field: string): number {
  const s = field.trim();
  return s === '' ? NaN : Number(s);
}

/** Why a field is not a usable float32 value, or null when it is one. */
function badValue(field: string, v: number): string | null {
  if (Number.isNaN(v)) return `'${field}' is not a number`;
  if (!Number.isFinite(v)) return `'${field}' is not a finite number`;
  if (!Number.isFinite(Math.fround(v))) return `'${field}' overflows float32 (largest magnitude 3.4028235e38)`;
  return null;
}

function detectDelimiter(line: string): string {
  for (const d of [',', '\t', ';']) if (line.includes(d)) return d;
  return ',';
}

/** Opens a path ('-' = stdin) as a text stream, gunzipping .gz files or gzip-magic input. */
async function openText(input: string | Readable, source: string): Promise<AsyncIterable<string>> {
  let raw: Readable;
  let gz = false;
  if (typeof input !== 'string') raw = input;
  else if (input === '-') raw = process.stdin;
  else {
    let fd: number;
    try {
      fd = fs.openSync(input, 'r');
    } catch (err) {
      throw new Error(`csv: cannot open '${input}': ${(err as Error).message}`);
    }
    const magic = Buffer.alloc(2);
    let got: number;
    try {
      got = fs.readSync(fd, magic, 0, 2, 0);
    } catch (err) {
      fs.closeSync(fd);
      throw new Error(`csv: cannot read '${input}': ${(err as Error).message}`);
    }
    gz = got === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    raw = fs.createReadStream(input, { fd, start: 0 });
  }
  if (typeof input !== 'string' || input === '-') {
    // Peek at the first chunk for the gzip magic.
    const it = raw[Symbol.asyncIterator]();
    const first = await it.next();
    const head: Buffer | null = first.done ? null : Buffer.from(first.value as Uint8Array | string);
    gz = head !== null && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
    const rest = async function* (): AsyncGenerator<Buffer> {
      if (head !== null) yield head;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield Buffer.from(r.value as Uint8Array | string);
      }
    };
    raw = Readable.from(rest(), { objectMode: false });
  }
  const text = gz ? raw.pipe(zlib.createGunzip()) : raw;
  if (gz) raw.on('error', (err) => text.destroy(err));
  text.setEncoding('utf8');
  // Read and gunzip errors name the source (zlib's own message is only "unexpected end of file").
  return (async function* namedErrors(): AsyncGenerator<string> {
    try {
      for await (const chunk of text) yield chunk as string;
    } catch (err) {
      const what = gz ? 'corrupt or truncated gzip data' : 'read error';
      throw new Error(`csv: ${source}: ${what}: ${(err as Error).message}`);
    }
  })();
}

/** Counters for tests and benchmarks: characters the line splitter examined. */
export interface LineScanStats {
  scanned: number;
}

/**
 * Yields the lines of a text stream (without line endings), with backpressure. Linear time: each
 * chunk is searched for newlines once, and a line spanning chunks is joined once, when it ends.
 * A line longer than maxLineLength characters is an error (raised as soon as the limit is passed).
 */
export async function* linesOf(
  chunks: AsyncIterable<string>, maxLineLength: number, source: string, stats?: LineScanStats,
): AsyncGenerator<string> {
  const pieces: string[] = [];
  let pending = 0; // characters held in pieces
  let lineNo = 0;
  const tooLong = (): never => {
    throw new Error(
      `csv: ${source}: line ${lineNo + 1} is longer than the maximum line length of ${maxLineLength} characters ` +
        '(raise maxLineLength / --max-line-length if the file is right)',
    );
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (stats !== undefined) stats.scanned += (nl < 0 ? chunk.length : nl + 1) - start;
      if (nl < 0) break;
      if (pending + nl - start > maxLineLength + 1) tooLong();
      let line = chunk.slice(start, nl);
      if (pieces.length > 0) {
        pieces.push(line);
        line = pieces.join('');
        pieces.length = 0;
        pending = 0;
      }
      if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      if (line.length > maxLineLength) tooLong();
      lineNo++;
      yield line;
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending += chunk.length - start;
      if (pending > maxLineLength + 1) tooLong();
      pieces.push(start === 0 ? chunk : chunk.slice(start));
    }
  }
  if (pieces.length > 0) {
    let line = pieces.join('');
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (line.length > maxLineLength) tooLong();
    yield line;
  }
}

function limitOption(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`csv: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/**
 * Reads a numeric CSV file (or '-' for stdin, or a stream) and yields batches of rows. Memory use is
 * bounded by the batch size (at most MAX_BATCH_VALUES values per batch) and maxLineLength. Blank
 * lines are skipped. Values must be finite float32 numbers. Errors name the source, the 1-based line
 * and column.
 */
export async function* readCsvBatches(input: string | Readable, options: CsvOptions = {}): AsyncGenerator<CsvBatch> {
  if (options === null || typeof options !== 'object') throw new Error(`csv: options must be an object, got ${String(options)}`);
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
  const fail = (msg: string): never => { throw new Error(`csv: ${source}: ${msg}`); };
  const stream = await openText(input, source);

  let delimiter = options.delimiter ?? '';
  let columns = -1;
  let labelIndex = -1; // -1: no label column
  let names: string[] | null = null;
  let featureNames: string[] | null = null;
  let labelName: string | null = null;
  let features = 0;
  let batchRows = batchSize;
  let x = new Float32Array(0);
  let y = null as Float32Array | null;
  let rows = 0;
  let firstLine = 0;
  let lineNo = 0;
  let total = 0;

  const columnName = (c: number): string => (names === null ? `column ${c + 1}` : `column ${c + 1} ('${names[c]}')`);

  const resolveLabel = (): void => {
    const lc = options.labelColumn ?? null;
    if (lc === null) labelIndex = -1;
    else if (lc === 'last') labelIndex = columns - 1;
    else if (typeof lc === 'number') {
      if (!Number.isInteger(lc) || lc < -columns || lc >= columns) fail(`label column index ${lc} is out of range for ${columns} columns`);
      labelIndex = lc < 0 ? columns + lc : lc;
    } else {
      if (names === null) {
        const asIndex = Number(lc);
        if (Number.isInteger(asIndex) && asIndex >= 0 && asIndex < columns) labelIndex = asIndex;
        else fail(`label column '${lc}' given by name but the file has no header line`);
      } else {
        labelIndex = names.indexOf(lc);
        if (labelIndex < 0) fail(`no column named '${lc}' in the header (columns: ${names.join(', ')})`);
      }
    }
    features = labelIndex >= 0 ? columns - 1 : columns;
    if (features < 1) fail(`no feature columns left (${columns} column(s), label column ${labelIndex})`);
    if (names !== null) {
      featureNames = names.filter((_, i) => i !== labelIndex);
      labelName = labelIndex >= 0 ? names[labelIndex] : null;
    }
    batchRows = Math.max(1, Math.min(batchSize, Math.floor(MAX_BATCH_VALUES / features)));
    x = new Float32Array(batchRows * features);
    y = labelIndex >= 0 ? new Float32Array(batchRows) : null;
  };

  /** Decides whether the first line is a header; a line mixing numbers and text is an error. */
  const isHeaderLine = (fields: string[]): boolean => {
    if (headerOpt !== 'auto') return headerOpt;
    const wanted = options.headerNames;
    if (wanted !== undefined && wanted.length > 0) {
      const cells = new Set(fields.map((f) => f.trim()));
      if (wanted.every((n) => cells.has(n))) return true;
    }
    let firstText = -1;
    let numeric = 0;
    for (let c = 0; c < fields.length; c++) {
      if (Number.isNaN(parseNumber(fields[c]))) { if (firstText < 0) firstText = c; } else numeric++;
    }
    if (numeric === 0) return true;
    if (firstText < 0) return false;
    return fail(
      `line ${lineNo}, column ${firstText + 1}: '${fields[firstText]}' is not a number, but ${numeric} other cell(s) of ` +
        'the first line are numbers, so it is neither a header nor a data row (fix the value, or pass header: true / ' +
        '--header if the line is a header)',
    );
  };

  const flush = (): CsvBatch => {
    const batch: CsvBatch = {
      x: x.slice(0, rows * features), y: y === null ? null : y.slice(0, rows), rows, features,
      firstLine, featureNames, labelName,
    };
    rows = 0;
    return batch;
  };

  for await (const line of linesOf(stream, maxLineLength, source)) {
    lineNo++;
    if (line.trim() === '') continue;
    if (columns < 0) {
      if (delimiter === '') delimiter = detectDelimiter(line);
      if (line.indexOf('"') < 0 && countFields(line, delimiter) > maxColumns) {
        fail(`line ${lineNo} has ${countFields(line, delimiter)} columns, more than the maximum of ${maxColumns} (raise maxColumns / --max-columns if the file is right)`);
      }
      const fields = splitCsvLine(line, delimiter);
      columns = fields.length;
      if (columns > maxColumns) fail(`line ${lineNo} has ${columns} columns, more than the maximum of ${maxColumns} (raise maxColumns / --max-columns if the file is right)`);
      if (isHeaderLine(fields)) {
        names = fields.map((f) => f.trim());
        resolveLabel();
        continue;
      }
      resolveLabel();
    }
    // Count before splitting so a runaway line costs no per-field allocation.
    if (line.indexOf('"') < 0) {
      const n = countFields(line, delimiter);
      if (n !== columns) fail(`line ${lineNo} has ${n} columns, expected ${columns}`);
    }
    const fields = splitCsvLine(line, delimiter);
    if (fields.length !== columns) fail(`line ${lineNo} has ${fields.length} columns, expected ${columns}`);
    if (rows === 0) firstLine = lineNo;
    let f = rows * features;
    for (let c = 0; c < columns; c++) {
      const v = parseNumber(fields[c]);
      if (!Number.isFinite(Math.fround(v))) fail(`line ${lineNo}, ${columnName(c)}: ${badValue(fields[c], v)}`);
      if (c === labelIndex && y !== null) y[rows] = v;
      else x[f++] = v;
    }
    rows++;
    total++;
    if (rows === batchRows) yield flush();
  }
  if (total === 0) fail('no data rows');
  if (rows > 0) yield flush();
}

/** Reads a whole numeric CSV into memory (for training data). Same options as readCsvBatches. */
export async function readCsv(input: string | Readable, options: CsvOptions = {}): Promise<CsvTable> {
  const xs: Float32Array[] = [];
  const ys: Float32Array[] = [];
  let n = 0;
  let features = 0;
  let featureNames: string[] | null = null;
  let labelName: string | null = null;
  let hasLabels = false;
  for await (const b of readCsvBatches(input, { batchSize: 8192, ...options })) {
    xs.push(b.x);
    if (b.y !== null) { ys.push(b.y); hasLabels = true; }
    n += b.rows;
    features = b.features;
    featureNames = b.featureNames;
    labelName = b.labelName;
  }
  const x = new Float32Array(n * features);
  let off = 0;
  for (const part of xs) { x.set(part, off); off += part.length; }
  let y: Float32Array | null = null;
  if (hasLabels) {
    y = new Float32Array(n);
    off = 0;
    for (const part of ys) { y.set(part, off); off += part.length; }
  }
  return { x, y, n, features, featureNames, labelName };
}
