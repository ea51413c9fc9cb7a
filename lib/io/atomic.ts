// Atomic file writes: temp file in the target's directory, write, fsync, rename over the target, fsync the directory.
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';

/** Bytes to write: one buffer, a string (UTF-8), or a list of chunks written in order. */
export type FileContents = Uint8Array | string | readonly Uint8Array[];

function chunksOf(data: FileContents): Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  return [...data];
}

/** A temp name next to `target` (same directory, so rename never crosses file systems). */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** fsync a directory so a rename inside it is durable. Platforms that cannot open directories skip this. */
export function fsyncDirSync(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return; // e.g. Windows: directories cannot be opened; rename is still atomic there
  }
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    fs.closeSync(fd);
  }
}

function writeAllSync(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.byteLength) {
    off += fs.writeSync(fd, chunk, off, chunk.byteLength - off);
  }
}

/**
 * Writes `data` to `target` so that a reader (or a crash at any moment) sees either the old file or
 * the complete new one, never a partial file: a temp file beside target is written, fsynced and renamed
 * over it, then the directory is fsynced.
 * @param target the file path to create or replace (its directory must exist).
 * @param data the contents: bytes, a string (written as UTF-8), or a list of byte chunks written in order.
 * @throws Error `atomic write of '<target>' failed: ...` when the temp file cannot be created, written, synced
 * or renamed (the temp file is removed).
 * @example io.writeFileAtomicSync('out/model.json', JSON.stringify(info));
 */
export function writeFileAtomicSync(target: string, data: FileContents): void {
  const tmp = tempPathFor(target);
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    for (const chunk of chunksOf(data)) writeAllSync(fd, chunk);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== null) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
    }
    try { fs.unlinkSync(tmp); } catch { /* temp may not exist */ }
    throw new Error(`atomic write of '${target}' failed: ${(err as Error).message}`);
  }
  fsyncDirSync(path.dirname(target));
}

/**
 * Async twin of writeFileAtomicSync (does not block the event loop on large files): temp file, fsync,
 * rename, directory fsync.
 * @param target the file path to create or replace (its directory must exist).
 * @param data the contents: bytes, a string (written as UTF-8), or a list of byte chunks written in order.
 * @returns a promise that resolves once the file is in place.
 * @throws Error (the promise rejects) `atomic write of '<target>' failed: ...` when the temp file cannot be
 * created, written, synced or renamed (the temp file is removed).
 * @example await io.writeFileAtomic('predictions.csv', csvText);
 */
export async function writeFileAtomic(target: string, data: FileContents): Promise<void> {
  const tmp = tempPathFor(target);
  let handle: fs.promises.FileHandle | null = null;
  try {
    handle = await fs.promises.open(tmp, 'wx', 0o644);
    for (const chunk of chunksOf(data)) {
      let off = 0;
      while (off < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, off, chunk.byteLength - off);
        off += bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = null;
    await fs.promises.rename(tmp, target);
  } catch (err) {
    if (handle !== null) await handle.close().catch(() => undefined);
    await fs.promises.unlink(tmp).catch(() => undefined);
    throw new Error(`atomic write of '${target}' failed: ${(err as Error).message}`);
  }
  fsyncDirSync(path.dirname(target));
}

/**
 * Atomically makes `target` a copy of `source` (a hard link when the file system allows it, else a
 * byte copy), via a temp name and rename, then fsyncs the directory.
 */
export function replaceWithCopySync(source: string, target: string): void {
  const tmp = tempPathFor(target);
  try {
    try {
      fs.linkSync(source, tmp);
    } catch {
      fs.copyFileSync(source, tmp);
      const fd = fs.openSync(tmp, 'r+');
      try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    try { fs.unlinkSync(tmp); } catch { /* temp may not exist */ }
    throw new Error(`atomic replace of '${target}' failed: ${(err as Error).message}`);
  }
  fsyncDirSync(path.dirname(target));
}
