// Input bytes for the CSV reader: opening a path, stdin or stream (gzip by magic bytes), and cutting the bytes into blocks of whole lines.
import * as fs from 'fs';
import * as zlib from 'zlib';
import { Readable } from 'stream';

/** Counters for tests and benchmarks: bytes the line splitter examined. */
export interface LineScanStats {
  scanned: number;
}

/** Opens a path ('-' = stdin) or a stream as a byte stream, gunzipping .gz files or gzip-magic input; errors name the source. */
export async function openBytes(input: string | Readable, source: string): Promise<AsyncIterable<Buffer>> {
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
    raw = fs.createReadStream(input, { fd, start: 0, highWaterMark: 1 << 18 });
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
  const bytes = gz ? raw.pipe(zlib.createGunzip({ chunkSize: 1 << 20 })) : raw;
  if (gz) raw.on('error', (err) => bytes.destroy(err));
  // Read and gunzip errors name the source (zlib's own message is only "unexpected end of file").
  return (async function* namedErrors(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of bytes) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    } catch (err) {
      const what = gz ? 'corrupt or truncated gzip data' : 'read error';
      throw new Error(`csv: ${source}: ${what}: ${(err as Error).message}`);
    }
  })();
}

/** Lines [firstLine, firstLine + lines) of the input, as the pieces of the chunks they came in; `rows` of them are not blank. */
export interface LineBlock {
  parts: Buffer[];
  /** Total bytes of the parts. */
  length: number;
  firstLine: number;
  lines: number;
  rows: number;
}

/** A block's bytes as one buffer (joined only when it spans chunks). */
export function blockBytes(b: LineBlock): Buffer {
  return b.parts.length === 1 ? b.parts[0] : Buffer.concat(b.parts, b.length);
}

/**
 * Cuts a byte stream into blocks of whole lines holding a given number of non-blank lines. Linear
 * time: each chunk is searched for newlines once (Buffer.indexOf), and a block's bytes are joined
 * once, when it is complete. A line longer than maxLineLength bytes is an error raised as soon as
 * the limit is passed.
 */
export class LineSplitter {
  private readonly it: AsyncIterator<Buffer>;
  private chunk: Buffer | null = null;
  private pos = 0;
  private pieces: Buffer[] = [];
  private lineNo = 0; // lines completed
  private lineBytes = 0; // bytes of the current line so far
  private lineBlank = true; // only whitespace so far in the current line
  private ended = false;
  /** Bytes consumed so far. */
  bytesRead = 0;

  constructor(chunks: AsyncIterable<Buffer>, private readonly maxLineLength: number, private readonly source: string, private readonly stats?: LineScanStats) {
    this.it = chunks[Symbol.asyncIterator]();
  }

  private tooLong(): never {
    throw new Error(
      `csv: ${this.source}: line ${this.lineNo + 1} is longer than the maximum line length of ${this.maxLineLength} bytes ` +
        '(raise maxLineLength / --max-line-length if the file is right)',
    );
  }

  private take(firstLine: number, lines: number, rows: number): LineBlock {
    const parts = this.pieces;
    this.pieces = [];
    let length = 0;
    for (const p of parts) length += p.length;
    return { parts, length, firstLine, lines, rows };
  }

  /** The next block of `rows` non-blank lines (fewer at the end of the input), or null at the end. */
  async next(rows: number): Promise<LineBlock | null> {
    const firstLine = this.lineNo + 1;
    let got = 0;
    let lines = 0;
    const max = this.maxLineLength;
    for (;;) {
      if (this.chunk === null) {
        if (this.ended) return null;
        const r = await this.it.next();
        if (r.done) {
          this.ended = true;
          if (this.lineBytes > 0) {
            // The last line has no newline.
            const last = this.pieces[this.pieces.length - 1];
            const cr = last !== undefined && last.length > 0 && last[last.length - 1] === 13 ? 1 : 0;
            if (this.lineBytes - cr > max) this.tooLong();
            this.lineNo++;
            lines++;
            if (!this.lineBlank) got++;
            this.lineBytes = 0;
          }
          if (lines === 0) return null;
          return this.take(firstLine, lines, got);
        }
        this.chunk = r.value;
        this.pos = 0;
        this.bytesRead += r.value.length;
      }
      const chunk = this.chunk;
      const len = chunk.length;
      const segStart = this.pos;
      let pos = segStart;
      while (pos < len) {
        if (this.lineBlank) {
          let q = pos;
          while (q < len && (chunk[q] === 32 || chunk[q] === 9 || chunk[q] === 13)) q++;
          if (q < len && chunk[q] !== 10) this.lineBlank = false;
        }
        const nl = chunk.indexOf(10, pos);
        if (nl < 0) {
          if (this.stats !== undefined) this.stats.scanned += len - pos;
          this.lineBytes += len - pos;
          if (this.lineBytes > max + 1) this.tooLong();
          pos = len;
          break;
        }
        if (this.stats !== undefined) this.stats.scanned += nl + 1 - pos;
        this.lineBytes += nl - pos;
        const cr = nl > 0 ? chunk[nl - 1] === 13 : this.pieces.length > 0 && this.pieces[this.pieces.length - 1].at(-1) === 13;
        if (this.lineBytes - (cr ? 1 : 0) > max) this.tooLong();
        this.lineNo++;
        lines++;
        if (!this.lineBlank) got++;
        this.lineBytes = 0;
        this.lineBlank = true;
        pos = nl + 1;
        if (got === rows) {
          this.pieces.push(chunk.subarray(segStart, pos));
          if (pos < len) this.pos = pos;
          else this.chunk = null;
          return this.take(firstLine, lines, got);
        }
      }
      if (pos > segStart) this.pieces.push(segStart === 0 && pos === len ? chunk : chunk.subarray(segStart, pos));
      this.chunk = null;
    }
  }
}
