// CSV block parser: numbers straight from the bytes of whole lines (no per-cell strings), missing values, text cells; runs on the main thread or in a csv-worker.
import { applyRowTransform, type RowTransform } from './row-transform';

/** Cells read as missing values: empty (or blank), NA, N/A, NaN, nan, null, NULL. */
export const MISSING_TOKENS: readonly string[] = ['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL'];
const MISSING = new Set(MISSING_TOKENS);

/** What a parser does with a missing cell: fail naming it, skip its row, or keep it as NaN (for a later fill). */
export type MissingPolicy = 'error' | 'drop' | 'keep';

/** How a column's cells are read. */
export const enum ColumnKind {
  /** A number (a text cell is an error). */
  Number = 0,
  /** Text collected as strings (readCsv decides the categories at the end); the x slot holds 0. */
  Text = 1,
  /** One-hot over known categories: writes `categories.length` slots (an unknown value is an error). */
  OneHot = 2,
  /** Not read (the label column, or a column the caller ignores). */
  Skip = 3,
}

/** How the label column is read. */
export const enum LabelMode {
  None = 0,
  /** A number (text is an error). */
  Number = 1,
  /** Its text is collected too (readCsv decides numbers vs class names at the end). */
  Text = 2,
  /** Class names mapped to their index (an unknown name is an error). */
  Classes = 3,
}

/** Everything a block parse needs; structured-cloneable (it is posted to the workers once). */
export interface BlockConfig {
  /** Name of the input in error messages. */
  source: string;
  /** The field separator, as a character code. */
  delimiter: number;
  /** Raw columns per line. */
  columns: number;
  /** Header names of the raw columns (null: the file has none). */
  names: string[] | null;
  /** Per raw column: a ColumnKind. */
  kinds: number[];
  /** Per raw column: the first x slot it writes (-1 for Skip columns). */
  offsets: number[];
  /** Per raw column: the known categories of a OneHot column, else null. */
  categories: (string[] | null)[];
  /** x values per row. */
  width: number;
  labelIndex: number;
  labelMode: number;
  /** Class names for LabelMode.Classes. */
  classNames: string[] | null;
  missing: MissingPolicy;
  /** What a missing label does (a label cannot be filled: readCsv's 'mean' makes it an error). */
  labelMissing: MissingPolicy;
  /** Appended to the "missing value" error: the options that handle missing values. */
  missingHint: string;
  /** Appended to the "missing label" error. */
  labelMissingHint: string;
  /** Appended to the "not a number" error of a text cell in a number column: how to encode text columns. */
  textHint: string;
  /** Applied to the parsed rows (a fitted preprocessor's fill and scaling), or null. */
  transform: RowTransform | null;
}

/** The parsed rows of one block of whole lines. */
export interface ParsedBlock {
  /** Rows kept (lines minus blank lines, minus rows dropped for missing values). */
  rows: number;
  /** Rows dropped (missing: 'drop'). */
  dropped: number;
  /** Cells kept as NaN (missing: 'keep'). */
  missingCells: number;
  /** Lines in the block, blank ones included. */
  lines: number;
  x: Float32Array;
  y: Float32Array | null;
  /** LabelMode.Text: each row's label cell, trimmed. */
  labelText: string[] | null;
  /** Per raw column: the trimmed cells of a Text column, else null. */
  text: (string[] | null)[] | null;
  /** The first error in the block (rows before it are parsed; the caller throws it in file order). */
  error: string | null;
  /** When the error is a text cell in a number column: that column (readCsv's oneHot: true discovery), else -1. */
  textColumn: number;
}

/**
 * Splits one CSV line into fields (RFC 4180 quoting within a line: "a,b" and "" escapes), in linear time.
 * Fields are not trimmed; an unterminated quote runs to the end of the line.
 * @param line one line, without its line break.
 * @param delimiter the field separator, one character (e.g. ',' or ';').
 * @returns the fields, unquoted.
 * @example data.splitCsvLine('a,"b,c",""""', ',') // ['a', 'b,c', '"']
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

/** Whether a (trimmed) cell is a missing value. */
export function isMissing(cell: string): boolean {
  return MISSING.has(cell);
}

/** Why a number read from `cell` is not a usable float32 value, or null when it is one. */
export function badNumber(cell: string, v: number): string | null {
  if (Number.isNaN(v)) return `'${cell}' is not a number`;
  if (!Number.isFinite(v)) return `'${cell}' is not a finite number`;
  if (!Number.isFinite(Math.fround(v))) return `'${cell}' overflows float32 (largest magnitude 3.4028235e38)`;
  return null;
}

/** A trimmed cell as a number the way Number() reads it, or NaN (empty text is NaN, not 0). */
export function numberOf(cell: string): number {
  return cell === '' ? NaN : Number(cell);
}

// Powers of ten as correctly rounded doubles (Number('1e' + k) is exact to the last bit).
const P10 = new Float64Array(309);
for (let k = 0; k < 309; k++) P10[k] = Number(`1e${k}`);
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
/** NaN: the fast path could not decide; the cell goes through the exact (string) path. */
const UNDECIDED = NaN;

/**
 * A double within a few units in the last place of the exact decimal value: is its float32 rounding
 * certain? Not when it lies near a midpoint between two float32 values (or outside the normal range).
 */
function float32Certain(v: number): boolean {
  const a = Math.abs(v);
  F32[0] = a;
  const bits = U32[0];
  const e = bits >>> 23;
  if (e === 0 || e >= 254) return false; // zero/subnormal, or near the top of the range
  const f = F32[0];
  U32[0] = bits - 1;
  const down = F32[0];
  U32[0] = bits + 1;
  const up = F32[0];
  const tol = a * 3.552713678800501e-15; // 2^-48: far more than the error of the approximation
  return Math.abs(a - (f + down) / 2) > tol && Math.abs(a - (f + up) / 2) > tol;
}

/** Result slot of fastNumber: where the cell ended (the delimiter or line end), when it parsed. */
let fastEnd = 0;
/** Result slots of numericLine with labelSpan: the label cell's bytes. */
let spanStart = 0;
let spanEnd = 0;

/** Reads an exponent's digits after 'e'/'E' at i ([+-] digits); NaN when there are none. Sets fastEnd past them. */
function readExponent(b: Uint8Array, i: number): number {
  let c = b[i];
  let neg = false;
  if (c === 45) { neg = true; c = b[++i]; } else if (c === 43) c = b[++i];
  if (!(c >= 48 && c <= 57)) return NaN;
  let e = 0;
  while (c >= 48 && c <= 57) {
    if (e < 100000) e = e * 10 + (c - 48);
    c = b[++i];
  }
  fastEnd = i;
  return neg ? -e : e;
}

/**
 * The exponent of a number whose mantissa ends at i: 0 when b[i] is not 'e'/'E' (fastEnd = i), else
 * readExponent's value (NaN when malformed; fastEnd = the byte after it).
 */
function exponentAt(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c !== 101 && c !== 69) {
    fastEnd = i;
    return 0;
  }
  return readExponent(b, i + 1);
}

/**
 * mant x 10^exp10 (mant holding `digits` significant digits, `dropped` when more were cut off) as
 * Number() would read the decimal, or UNDECIDED when that cannot be told without the exact path.
 */
function decimalValue(mant: number, digits: number, dropped: boolean, exp10: number): number {
  if (mant === 0) return 0;
  // Clinger's fast path: both operands exact, one correctly rounded operation = Number(cell).
  if (digits <= 15 && !dropped && exp10 >= -22 && exp10 <= 22) return exp10 < 0 ? mant / P10[-exp10] : mant * P10[exp10];
  if (exp10 < -308 || exp10 > 308) return UNDECIDED;
  const v = exp10 < 0 ? mant / P10[-exp10] : mant * P10[exp10];
  return float32Certain(v) ? v : UNDECIDED;
}

/**
 * Reads a plain decimal number ([spaces] [+-] digits [. digits] [e [+-] digits] [spaces]) starting
 * at i and ending at the delimiter or lineEnd. Returns its value exactly as Math.fround(Number(cell))
 * would, or UNDECIDED (NaN) when the cell is anything else (or too close to call), leaving it to the
 * string path. Sets fastEnd on success. b[lineEnd] is '\r', '\n' or past the end: none of them
 * continues a number, so the loops stop there without a bounds test.
 */
function fastNumber(b: Uint8Array, i: number, lineEnd: number, delim: number): number {
  let c = b[i];
  while (c === 32 || c === 9) c = b[++i];
  let neg = false;
  if (c === 45) { neg = true; c = b[++i]; } else if (c === 43) c = b[++i];
  let mant = 0;
  let digits = 0; // significant digits in mant
  let exp10 = 0;
  let seen = false;
  let dropped = false;
  while (c >= 48 && c <= 57) {
    seen = true;
    if (digits < 19) {
      if (mant !== 0 || c !== 48) { mant = mant * 10 + (c - 48); digits++; }
    } else {
      exp10++;
      if (c !== 48) dropped = true;
    }
    c = b[++i];
  }
  if (c === 46) {
    c = b[++i];
    while (c >= 48 && c <= 57) {
      seen = true;
      if (digits < 19) {
        if (mant !== 0 || c !== 48) { mant = mant * 10 + (c - 48); digits++; }
        exp10--;
      } else if (c !== 48) dropped = true;
      c = b[++i];
    }
  }
  if (!seen) return UNDECIDED;
  const e = exponentAt(b, i);
  if (e !== e) return UNDECIDED;
  exp10 += e;
  i = fastEnd;
  c = b[i];
  while (c === 32 || c === 9) c = b[++i];
  if (i > lineEnd || (i < lineEnd && c !== delim)) return UNDECIDED;
  const v = decimalValue(mant, digits, dropped, exp10);
  fastEnd = i;
  return neg ? -v : v;
}

/**
 * The hot path for lines of plain numbers (every column a number, the label too): parses the line
 * [p, le) straight into x[o..] (and y[row] for the label column), the number reading of fastNumber
 * inlined. Returns false, having written garbage the caller overwrites, when any cell is not a plain
 * number (spaces, text, missing, >18 digits, overflow...) or the line has the wrong number of cells:
 * the caller then parses the line cell by cell, which finds the exact value or the error.
 */
function numericLine(
  b: Uint8Array, p: number, le: number, delim: number, x: Float32Array, o: number, columns: number, labelIndex: number,
  y: Float32Array | null, row: number, labelSpan: boolean,
): boolean {
  for (let col = 0; col < columns; col++) {
    if (col > 0) {
      if (p >= le || b[p] !== delim) return false;
      p++;
    }
    if (labelSpan && col === labelIndex) {
      // A label read as text (readCsv): only its extent here; the caller reads it.
      spanStart = p;
      p = findByte(b, delim, p, le);
      spanEnd = p;
      continue;
    }
    let c = b[p];
    let neg = false;
    if (c === 45) { neg = true; c = b[++p]; }
    // `digits` counts every digit, leading zeros too: an upper bound of the significant ones, so
    // digits <= 15 still means an exact mantissa (and over 18 goes to the cell-by-cell path).
    let mant = 0;
    let exp10 = 0;
    const start = p;
    while (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      c = b[++p];
    }
    let digits = p - start;
    if (digits > 0 && digits <= 15 && (c === delim || p === le)) {
      // The common cell: a plain integer (exact in a double, and Math.fround rounds it like Number()).
      const v = neg ? -mant : mant;
      if (col === labelIndex) y![row] = v;
      else x[o++] = v;
      continue;
    }
    if (c === 46) {
      c = b[++p];
      const fracStart = p;
      while (c >= 48 && c <= 57) {
        mant = mant * 10 + (c - 48);
        c = b[++p];
      }
      exp10 = fracStart - p;
      digits -= exp10;
    }
    if (digits === 0 || digits > 18) return false;
    const e = exponentAt(b, p);
    if (e !== e) return false;
    exp10 += e;
    p = fastEnd;
    c = b[p];
    if (p < le && c !== delim) return false;
    const v = decimalValue(mant, digits, false, exp10);
    if (v !== v) return false;
    const f = Math.fround(neg ? -v : v);
    if (f - f !== 0) return false;
    if (col === labelIndex) y![row] = f;
    else x[o++] = f;
  }
  return p >= le;
}

const CHUNK_DECODER = new TextDecoder('utf-8');

/** Text of bytes [start, end) (UTF-8). */
function textOf(b: Uint8Array, start: number, end: number): string {
  return CHUNK_DECODER.decode(b.subarray(start, end));
}

function columnName(cfg: BlockConfig, c: number): string {
  return cfg.names === null ? `column ${c + 1}` : `column ${c + 1} ('${cfg.names[c]}')`;
}

/** Outcome of one cell for the row loop. */
const OK = 0;
const MISSING_CELL = 1;
const FAILED = 2;

/** The first index of byte `v` in b[from, to), or `to`. */
function findByte(b: Uint8Array, v: number, from: number, to: number): number {
  let i = from;
  while (i < to && b[i] !== v) i++;
  return i;
}

// Per-column dispatch of the row loop.
const CELL_NUMBER = 0; // a feature number: fast path first
const CELL_LABEL_NUMBER = 1; // a numeric label: fast path first
const CELL_SKIP = 2;
const CELL_TEXT = 3; // everything else goes through the string path

/**
 * Parses the whole lines in `bytes` (the last one may lack its newline). `firstLine` is the 1-based
 * line number of the first; `expectRows` sizes the output (the non-blank lines the caller counted).
 */
export function parseBlock(
  bytes: Uint8Array, firstLine: number, expectRows: number, cfg: BlockConfig, into?: { x: Float32Array; y: Float32Array | null },
): ParsedBlock {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = cfg.width;
  // `into`: buffers the caller allocated (the pool's main thread), so a worker allocates nothing large.
  const x = into !== undefined && into.x.length >= expectRows * width ? into.x : new Float32Array(expectRows * width);
  const labelMode = cfg.labelIndex >= 0 ? cfg.labelMode : LabelMode.None;
  const labelIndex = labelMode === LabelMode.None ? -1 : cfg.labelIndex;
  const y = labelMode === LabelMode.None ? null : into?.y != null && into.y.length >= expectRows ? into.y : new Float32Array(expectRows);
  const labelText = labelMode === LabelMode.Text ? new Array<string>(expectRows) : null;
  const kinds = cfg.kinds;
  const offsets = Int32Array.from(cfg.offsets);
  const columns = cfg.columns;
  const delim = cfg.delimiter;
  const missing = cfg.missing;
  const mode = new Int8Array(columns);
  let text: (string[] | null)[] | null = null;
  for (let c = 0; c < columns; c++) {
    if (c === labelIndex) mode[c] = labelMode === LabelMode.Number ? CELL_LABEL_NUMBER : CELL_TEXT;
    else if (kinds[c] === ColumnKind.Number) mode[c] = CELL_NUMBER;
    else if (kinds[c] === ColumnKind.Skip) mode[c] = CELL_SKIP;
    else mode[c] = CELL_TEXT;
    if (kinds[c] === ColumnKind.Text && c !== labelIndex) {
      text ??= new Array<string[] | null>(columns).fill(null);
      text[c] = new Array<string>(expectRows);
    }
  }
  const catMaps: (Map<string, number> | null)[] = cfg.categories.map((cats) => (cats === null ? null : new Map(cats.map((v, i) => [v, i]))));
  const classMap = cfg.classNames === null ? null : new Map(cfg.classNames.map((v, i) => [v, i]));
  // Every column a number (the label too): whole lines go through numericLine first.
  let plain = true;
  for (let c = 0; c < columns; c++) if (c !== labelIndex && kinds[c] !== ColumnKind.Number) plain = false;
  const labelSpan = labelMode === LabelMode.Text || labelMode === LabelMode.Classes;

  let rows = 0;
  let dropped = 0;
  let missingCells = 0;
  let lines = 0;
  let error: string | null = null;
  let textColumn = -1;
  const end = b.length;
  let p = 0;
  let lineNo = firstLine - 1;
  let nextQuote = -1; // the next '"' at or after the current line (end: none left)

  const fail = (msg: string): number => {
    error = `csv: ${cfg.source}: line ${lineNo}, ${msg}`;
    return FAILED;
  };
  /** A cell of column c as text: missing, number, category, class name or label text. */
  const textCell = (c: number, raw: string, row: number): number => {
    const cell = raw.trim();
    if (c === labelIndex) {
      if (isMissing(cell)) return MISSING_CELL;
      if (labelMode === LabelMode.Classes) {
        const k = classMap!.get(cell);
        if (k === undefined) return fail(`${columnName(cfg, c)}: label '${cell}' is not one of the model's classes (${cfg.classNames!.join(', ')})`);
        y![row] = k;
        return OK;
      }
      const v = numberOf(cell);
      if (labelMode === LabelMode.Text) {
        labelText![row] = cell;
        y![row] = Number.isFinite(Math.fround(v)) ? v : NaN;
        return OK;
      }
      const why = badNumber(cell, v);
      if (why !== null) return fail(`${columnName(cfg, c)}: ${why}`);
      y![row] = v;
      return OK;
    }
    const kind = kinds[c];
    if (kind === ColumnKind.Skip) return OK;
    if (isMissing(cell)) return MISSING_CELL;
    const o = row * width + offsets[c];
    if (kind === ColumnKind.Text) {
      text![c]![row] = cell;
      x[o] = 0;
      return OK;
    }
    if (kind === ColumnKind.OneHot) {
      const k = catMaps[c]!.get(cell);
      if (k === undefined) {
        return fail(`${columnName(cfg, c)}: '${cell}' is not one of the categories this column had in training (${cfg.categories[c]!.join(', ')})`);
      }
      x.fill(0, o, o + cfg.categories[c]!.length);
      x[o + k] = 1;
      return OK;
    }
    const v = numberOf(cell);
    const why = badNumber(cell, v);
    if (why !== null) {
      if (Number.isNaN(v)) textColumn = c;
      return fail(`${columnName(cfg, c)}: ${why}${Number.isNaN(v) ? cfg.textHint : ''}`);
    }
    x[o] = v;
    return OK;
  };
  /** A missing cell of column c: an error, MISSING_CELL (drop the row), or NaN kept for a later fill. */
  const missingCell = (c: number, raw: string, row: number): number => {
    const policy = c === labelIndex ? cfg.labelMissing : missing;
    if (policy === 'error') {
      const what = c === labelIndex ? `missing label '${raw.trim()}'${cfg.labelMissingHint}` : `missing value '${raw.trim()}'${cfg.missingHint}`;
      return fail(`${columnName(cfg, c)}: ${what}`);
    }
    if (policy === 'drop') return MISSING_CELL;
    missingCells++;
    if (c === labelIndex) {
      y![row] = NaN;
      if (labelText !== null) labelText[row] = '';
      return OK;
    }
    const o = row * width + offsets[c];
    if (kinds[c] === ColumnKind.Text) { text![c]![row] = ''; x[o] = 0; } else if (kinds[c] === ColumnKind.OneHot) x.fill(NaN, o, o + cfg.categories[c]!.length);
    else x[o] = NaN;
    return OK;
  };

  lineLoop: while (p < end) {
    let nl = b.indexOf(10, p);
    if (nl < 0) nl = end;
    let le = nl;
    if (le > p && b[le - 1] === 13) le--;
    lineNo++;
    lines++;
    const lineStart = p;
    p = nl + 1;
    let q = lineStart;
    while (q < le && (b[q] === 32 || b[q] === 9 || b[q] === 13)) q++;
    if (q === le) continue; // blank line
    if (rows >= expectRows) { error = `csv: ${cfg.source}: internal error: more rows than counted in the block`; break; }
    const row = rows;
    if (nextQuote < lineStart && nextQuote !== end) {
      nextQuote = b.indexOf(34, lineStart);
      if (nextQuote < 0) nextQuote = end;
    }
    if (nextQuote < le) {
      const fields = splitCsvLine(textOf(b, lineStart, le), String.fromCharCode(delim));
      if (fields.length !== columns) {
        error = `csv: ${cfg.source}: line ${lineNo} has ${fields.length} columns, expected ${columns}`;
        break;
      }
      for (let c = 0; c < columns; c++) {
        let r = textCell(c, fields[c], row);
        if (r === MISSING_CELL) r = missingCell(c, fields[c], row);
        if (r === FAILED) break lineLoop;
        if (r === MISSING_CELL) { dropped++; continue lineLoop; }
      }
      rows++;
      continue;
    }
    const base = row * width;
    if (plain && numericLine(b, lineStart, le, delim, x, base, columns, labelIndex, y, row, labelSpan)) {
      if (labelSpan) {
        const raw = textOf(b, spanStart, spanEnd);
        let r = textCell(labelIndex, raw, row);
        if (r === MISSING_CELL) r = missingCell(labelIndex, raw, row);
        if (r === FAILED) break;
        if (r === MISSING_CELL) { dropped++; continue; }
      }
      rows++;
      continue;
    }
    let i = lineStart;
    for (let c = 0; c < columns; c++) {
      if (c > 0) {
        // i is at the delimiter that ended the previous cell.
        if (i >= le) {
          error = `csv: ${cfg.source}: line ${lineNo} has ${c} columns, expected ${columns}`;
          break lineLoop;
        }
        i++;
      }
      const m = mode[c];
      if (m === CELL_NUMBER) {
        const v = fastNumber(b, i, le, delim);
        if (v === v && Math.fround(v) - Math.fround(v) === 0) {
          x[base + offsets[c]] = v;
          i = fastEnd;
          continue;
        }
      } else if (m === CELL_LABEL_NUMBER) {
        const v = fastNumber(b, i, le, delim);
        if (v === v && Math.fround(v) - Math.fround(v) === 0) {
          y![row] = v;
          i = fastEnd;
          continue;
        }
      } else if (m === CELL_SKIP) {
        i = findByte(b, delim, i, le);
        continue;
      }
      // The string path: the cell's text up to the next delimiter.
      const d = findByte(b, delim, i, le);
      const raw = textOf(b, i, d);
      i = d;
      let r = textCell(c, raw, row);
      if (r === MISSING_CELL) r = missingCell(c, raw, row);
      if (r === FAILED) break lineLoop;
      if (r === MISSING_CELL) { dropped++; continue lineLoop; }
    }
    if (i < le) {
      // More cells than columns: count them for the message.
      let n = columns;
      for (let d = findByte(b, delim, i, le); d < le; d = findByte(b, delim, d + 1, le)) n++;
      error = `csv: ${cfg.source}: line ${lineNo} has ${n} columns, expected ${columns}`;
      break;
    }
    rows++;
  }
  if (cfg.transform !== null && rows > 0) {
    const xs = x.subarray(0, rows * width);
    const bad = applyRowTransform(xs, xs, cfg.transform);
    if (bad !== null && error === null) error = `csv: ${cfg.source}: in the rows from line ${firstLine}: ${bad}`;
  }
  return {
    rows, dropped, missingCells, lines,
    x: x.length === rows * width ? x : x.subarray(0, rows * width),
    y: y === null || y.length === rows ? y : y.subarray(0, rows),
    labelText: labelText === null ? null : labelText.slice(0, rows),
    text: text === null ? null : text.map((t) => (t === null ? null : t.slice(0, rows))),
    error,
    textColumn,
  };
}
