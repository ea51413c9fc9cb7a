// Reading files without surprises: regular files only (never a FIFO, device or directory), size from
// fstat on the opened descriptor checked before a byte is read, and a file that changes size mid-read refused.
import * as fs from 'fs';

/** Size limits: the exact size expected (e.g. recorded in a manifest) and/or a cap. */
export interface ReadLimits {
  bytes?: number;
  maxBytes?: number;
  /** Wording for a size that differs from `bytes` (default: "expected N"). */
  expectedFrom?: string;
}

export interface ReadOptions extends ReadLimits {
  /** Refuse a symbolic link as the last path component (O_NOFOLLOW). */
  noFollow?: boolean;
}

/** "a directory", "a FIFO (named pipe)", ...: what a path that is not a regular file is. */
export function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function openFlags(noFollow: boolean | undefined): number {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused right after, by fstat).
  return fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (noFollow ? fs.constants.O_NOFOLLOW ?? 0 : 0);
}

function checkSize(file: string, st: fs.Stats, limits: ReadLimits, op: string): number {
  if (!st.isFile()) throw new Error(`${op}: ${file} is ${kindOf(st)}, not a regular file`);
  const size = st.size;
  if (limits.bytes !== undefined && size !== limits.bytes) {
    throw new Error(`${op}: ${file} is ${size} bytes but ${limits.expectedFrom ?? `expected ${limits.bytes}`}`);
  }
  if (limits.maxBytes !== undefined && size > limits.maxBytes) {
    throw new Error(`${op}: ${file} is ${size} bytes, more than the ${limits.maxBytes}-byte limit for this file`);
  }
  return size;
}

function openError(file: string, err: unknown, op: string): Error {
  if ((err as NodeJS.ErrnoException).code === 'ELOOP') return new Error(`${op}: ${file} is a symbolic link, which is not accepted here`);
  return new Error(`${op}: ${file}: cannot read: ${(err as Error).message}`);
}

/** Reads a regular file whole, checking its size against `options` first. Errors start with `${op}: <file>`. */
export function readRegularFileSync(file: string, options: ReadOptions, op: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, openFlags(options.noFollow));
  } catch (err) {
    throw openError(file, err, op);
  }
  try {
    const size = checkSize(file, fs.fstatSync(fd), options, op);
    const bytes = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, bytes, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    if (off !== size || fs.readSync(fd, Buffer.alloc(1), 0, 1, size) !== 0) {
      throw new Error(`${op}: ${file} changed size while being read (another process is writing it)`);
    }
    return bytes;
  } finally {
    fs.closeSync(fd);
  }
}

/** Async twin of readRegularFileSync (does not block the event loop while reading). */
export async function readRegularFile(file: string, options: ReadOptions, op: string): Promise<Buffer> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, openFlags(options.noFollow));
  } catch (err) {
    throw openError(file, err, op);
  }
  try {
    const size = checkSize(file, await handle.stat(), options, op);
    const bytes = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await handle.read(bytes, off, size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    if (off !== size || (await handle.read(Buffer.alloc(1), 0, 1, size)).bytesRead !== 0) {
      throw new Error(`${op}: ${file} changed size while being read (another process is writing it)`);
    }
    return bytes;
  } finally {
    await handle.close();
  }
}
