// Streaming numeric CSV reader: header detection, delimiter, label column, gzip, bounded-memory row batches.
import * as fs from 'fs';
import * as zlib from 'zlib';
import { Readable } from 'stream';

/** Which column holds the label: a header name, a 0-based index, 'last', or null for none. */
export type LabelColumn = string | number | 'last' | null;

export interface CsvOptions {
  /** Field separator (one character). Default: auto-detect ',', ';' or tab from the first line. */
  delimiter?: string;
  /** true: the first line is a header; false: data; 'auto' (default): header if any field is non-numeric. */
  header?: boolean | 'auto';
  /** Label column. Default null (all columns are features). Training code usually passes 'last'. */
  labelColumn?: LabelColumn;
  /** Rows per yielded batch. Default 1024. */
  batchSize?: number;
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

/** Splits one CSV line into fields (RFC 4180 quoting within a line: "a,b" and "" escapes). */
export function splitCsvLine(line: string, delimiter: string): string[] {
  if (line.indexOf('"') < 0) return line.split(delimiter);
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') { field += '"'; i++; } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) { out.push(field); field = ''; }
    else field += ch;
  }
  out.push(field);
  return out;
}

/** Parses a numeric field; NaN for empty fields and anything that is not a number literal. */
function parseNumber(field: string): number {
  const s = field.trim();
  return s === '' ? NaN : Number(s);
}

function isNumericField(field: string): boolean {
  return !Number.isNaN(parseNumber(field));
}

function detectDelimiter(line: string): string {
  for (const d of [',', '\t', ';']) if (line.includes(d)) return d;
  return ',';
}

/** Opens a path ('-' = stdin) as a text stream, gunzipping .gz files or gzip-magic input. */
async function openText(input: string | Readable): Promise<Readable> {
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
    const got = fs.readSync(fd, magic, 0, 2, 0);
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
  return text;
}

/** Yields the lines of a text stream (without line endings), with backpressure (stream async iteration). */
async function* linesOf(stream: Readable): AsyncGenerator<string> {
  let carry = '';
  for await (const chunk of stream) {
    const text = carry + (chunk as string);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      let end = nl;
      if (end > start && text.charCodeAt(end - 1) === 13) end--;
      yield text.slice(start, end);
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  if (carry.length > 0) yield carry.endsWith('\r') ? carry.slice(0, -1) : carry;
}

/**
 * Reads a numeric CSV file (or '-' for stdin, or a stream) and yields batches of rows. Memory use is
 * bounded by the batch size. Blank lines are skipped. Errors name the source, the 1-based line and column.
 */
export async function* readCsvBatches(input: string | Readable, options: CsvOptions = {}): AsyncGenerator<CsvBatch> {
  const source = options.source ?? (typeof input === 'string' ? (input === '-' ? 'stdin' : input) : 'stream');
  const batchSize = options.batchSize ?? 1024;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`csv: batchSize must be a positive integer, got ${batchSize}`);
  if (options.delimiter !== undefined && options.delimiter.length !== 1) {
    throw new Error(`csv: delimiter must be one character, got '${options.delimiter}'`);
  }
  const fail = (msg: string): never => { throw new Error(`csv: ${source}: ${msg}`); };
  const stream = await openText(input);

  let delimiter = options.delimiter ?? '';
  let columns = -1;
  let labelIndex = -1; // -1: no label column
  let names: string[] | null = null;
  let featureNames: string[] | null = null;
  let labelName: string | null = null;
  let features = 0;
  let x = new Float32Array(0);
  let y = null as Float32Array | null;
  let rows = 0;
  let firstLine = 0;
  let lineNo = 0;
  let total = 0;

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
    x = new Float32Array(batchSize * features);
    y = labelIndex >= 0 ? new Float32Array(batchSize) : null;
  };

  const flush = (): CsvBatch => {
    const batch: CsvBatch = {
      x: x.slice(0, rows * features), y: y === null ? null : y.slice(0, rows), rows, features,
      firstLine, featureNames, labelName,
    };
    rows = 0;
    return batch;
  };

  for await (const line of linesOf(stream)) {
    lineNo++;
    if (line.trim() === '') continue;
    if (columns < 0) {
      if (delimiter === '') delimiter = detectDelimiter(line);
      const fields = splitCsvLine(line, delimiter);
      columns = fields.length;
      const isHeader = options.header === 'auto' || options.header === undefined
        ? fields.some((f) => f.trim() !== '' && !isNumericField(f))
        : options.header;
      if (isHeader) {
        names = fields.map((f) => f.trim());
        resolveLabel();
        continue;
      }
      resolveLabel();
    }
    const fields = splitCsvLine(line, delimiter);
    if (fields.length !== columns) fail(`line ${lineNo} has ${fields.length} columns, expected ${columns}`);
    if (rows === 0) firstLine = lineNo;
    let f = rows * features;
    for (let c = 0; c < columns; c++) {
      const v = parseNumber(fields[c]);
      if (Number.isNaN(v)) {
        const col = names === null ? `column ${c + 1}` : `column ${c + 1} ('${names[c]}')`;
        fail(`line ${lineNo}, ${col}: '${fields[c]}' is not a number`);
      }
      if (c === labelIndex && y !== null) y[rows] = v;
      else x[f++] = v;
    }
    rows++;
    total++;
    if (rows === batchSize) yield flush();
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
