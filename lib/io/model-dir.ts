// Crash-safe, self-verifying multi-file model directories: stage files, commit through model.json, promote to canonical names.
//
// A model directory holds model.json (the manifest) and the data files it lists with their sizes and
// sha256 digests. The manifest carries its own digest too: `sha256` is the sha256 of the manifest's
// canonical JSON (keys sorted, no whitespace) without that key, so any change to model.json (one
// flipped bit, a renamed key, a changed value) is detected, and the data files' digests are bound to it.
//
// model.json is the single commit point: it is replaced atomically, and only after every file it names
// is complete and fsynced. A save runs in two commits so that the canonical file names
// (model.safetensors, ...) can be replaced without ever leaving a manifest that points to a file of the
// wrong generation:
//   1. write the new files into a fresh hidden staging folder (.staging-<id>/), fsync them;
//   2. commit model.json listing the staged paths      -> readers now see the new model;
//   3. hard-link (or copy) each staged file over its canonical name (atomic rename);
//   4. commit model.json listing the canonical paths, then remove the staging folder.
// A crash anywhere leaves model.json naming complete files of one generation: the old model before
// step 2, the new one after. Leftover staging folders are removed by the next save.
//
// Reading never trusts the directory: every file is opened without following symlinks, must be a
// regular file, and its size is checked (against the manifest, or a cap) before a byte is read.
import * as fs from 'fs';
import * as path from 'path';
import { createHash, randomBytes } from 'crypto';
import { FileContents, writeFileAtomicSync, replaceWithCopySync, fsyncDirSync } from './atomic';
import { readRegularFileSync, kindOf, ReadLimits } from './read-file';

/** The manifest's file name inside a model directory. */
export const MANIFEST_NAME = 'model.json';

/** Largest model.json we read (metadata such as class names stays far below this). */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/** The manifest key holding its own digest. */
export const DIGEST_KEY = 'sha256';

/** A data file listed in the manifest. `path` is relative to the model directory. */
export interface FileEntry {
  path: string;
  bytes: number;
  sha256: string;
}

/** One file to write: its role key in the manifest, its canonical name and its contents. */
export interface FileToWrite {
  role: string;
  name: string;
  contents: FileContents;
}

/** The manifest with its `files` table; the rest is up to the caller (JSON-serialisable). */
export interface Manifest {
  files: Record<string, FileEntry>;
  [key: string]: unknown;
}

const STAGING_PREFIX = '.staging-';
/** Names this module creates: staging folders and atomic-write temp files (see atomic.ts tempPathFor). */
const STAGING_NAME = /^\.staging-[0-9a-z]+-[0-9a-f]{8}$/;
const TEMP_NAME = /^\..+\.tmp-\d+-[0-9a-f]{12}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

function digestOf(contents: FileContents): { bytes: number; sha256: string } {
  const h = createHash('sha256');
  let bytes = 0;
  const chunks = typeof contents === 'string' ? [Buffer.from(contents, 'utf8')] : contents instanceof Uint8Array ? [contents] : contents;
  for (const c of chunks) {
    h.update(c);
    bytes += c.byteLength;
  }
  return { bytes, sha256: h.digest('hex') };
}

/** JSON with object keys sorted (recursively) and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  const s = JSON.stringify(value);
  if (s === undefined) throw new Error(`model directory: cannot write a ${typeof value} into ${MANIFEST_NAME}`);
  return s;
}

/** The digest a manifest carries under `sha256`: sha256 of its canonical JSON without that key. */
export function manifestDigest(manifest: Record<string, unknown>): string {
  const { [DIGEST_KEY]: _own, ...rest } = manifest;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

function serialise(manifest: Manifest): string {
  const body: Record<string, unknown> = { ...manifest };
  delete body[DIGEST_KEY];
  return JSON.stringify({ ...body, [DIGEST_KEY]: manifestDigest(body) }, null, 2) + '\n';
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/** Removes staging folders and temp files left by interrupted saves (never the staging folders in `keep`). */
function removeStaleStaging(dir: string, keep: Set<string>): void {
  for (const name of fs.readdirSync(dir)) {
    if (STAGING_NAME.test(name) && !keep.has(name) && lstatOrNull(path.join(dir, name))?.isDirectory()) {
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    } else if (TEMP_NAME.test(name) && lstatOrNull(path.join(dir, name))?.isFile()) {
      fs.rmSync(path.join(dir, name), { force: true });
    }
  }
}

function stagingFoldersIn(manifestText: string | null): Set<string> {
  const keep = new Set<string>();
  if (manifestText === null) return keep;
  try {
    const m = JSON.parse(manifestText) as Partial<Manifest>;
    for (const f of Object.values(m.files ?? {})) {
      const first = String(f.path).split(/[\\/]/)[0];
      if (first.startsWith(STAGING_PREFIX)) keep.add(first);
    }
  } catch { /* unreadable manifest: nothing to keep */ }
  return keep;
}

/**
 * Makes sure `dir` is a directory, creating it and missing parents one level at a time (Node 20's
 * recursive mkdirSync never returns for some paths, e.g. under /proc). Errors start with "save:".
 */
function ensureDirectory(dir: string): void {
  const notDir = (p: string): Error => new Error(
    p === dir
      ? `save: '${dir}' exists and is not a directory; a saved model is a directory (${MANIFEST_NAME}, model.safetensors): pass a directory path, or move the file away`
      : `save: cannot create '${dir}': '${p}' exists and is not a directory`,
  );
  const missing: string[] = [];
  let p = dir;
  for (;;) {
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(`save: cannot use '${dir}': ${(err as Error).message}`);
    }
    if (st !== null) {
      if (!st.isDirectory()) throw notDir(p);
      break;
    }
    missing.push(p);
    const parent = path.dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const m of missing.reverse()) {
    try {
      fs.mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(m).isDirectory()) continue;
      throw new Error(`save: cannot create directory '${m}': ${(err as Error).message}`);
    }
  }
}

/**
 * Writes `files` plus a manifest (`manifest` with a `files` table and its digest added) into `dir`,
 * crash-safely. Data files of the previous save that this one does not write are removed, but only
 * those named in `ownedNames` (the data file names of the format): a hostile or damaged old manifest
 * cannot make save delete anything else.
 */
export function commitModelDir(dir: string, files: readonly FileToWrite[], manifest: Omit<Manifest, 'files'>, ownedNames: ReadonlySet<string>): void {
  for (const f of files) {
    if (!ownedNames.has(f.name) || f.name.includes('/') || f.name.includes('\\') || f.name === MANIFEST_NAME || f.name.startsWith('.')) {
      throw new Error(`model directory: invalid data file name '${f.name}'`);
    }
  }
  ensureDirectory(dir);
  const manifestPath = path.join(dir, MANIFEST_NAME);
  let previous: string | null = null;
  try {
    previous = readDirFile(dir, MANIFEST_NAME, { maxBytes: MAX_MANIFEST_BYTES }, 'save').bytes.toString('utf8');
  } catch { /* first save, or an unreadable manifest: nothing to clean up from it */ }
  removeStaleStaging(dir, stagingFoldersIn(previous));

  const stagingName = `${STAGING_PREFIX}${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const staging = path.join(dir, stagingName);
  fs.mkdirSync(staging);
  fsyncDirSync(dir);

  const staged: Record<string, FileEntry> = {};
  const canonical: Record<string, FileEntry> = {};
  for (const f of files) {
    writeFileAtomicSync(path.join(staging, f.name), f.contents);
    const d = digestOf(f.contents);
    staged[f.role] = { path: `${stagingName}/${f.name}`, ...d };
    canonical[f.role] = { path: f.name, ...d };
  }
  // Commit 1: the manifest names the staged files.
  writeFileAtomicSync(manifestPath, serialise({ ...manifest, files: staged }));
  // Promote each staged file to its canonical name, then commit 2.
  for (const f of files) replaceWithCopySync(path.join(staging, f.name), path.join(dir, f.name));
  writeFileAtomicSync(manifestPath, serialise({ ...manifest, files: canonical }));
  // The manifest now names only canonical files: every staging folder (ours, and any left by an
  // interrupted save that the previous manifest still pointed into) can go.
  removeStaleStaging(dir, new Set());
  // Data files of the previous save that this one does not write (e.g. optimizer state) go away:
  // only names of the format, listed by the previous manifest, and only files or links (never a folder).
  if (previous !== null) {
    try {
      const old = JSON.parse(previous) as Partial<Manifest>;
      const written = new Set(files.map((f) => f.name));
      for (const entry of Object.values(old.files ?? {})) {
        const name = (entry as Partial<FileEntry> | null)?.path;
        if (typeof name !== 'string' || !ownedNames.has(name) || written.has(name)) continue;
        const st = lstatOrNull(path.join(dir, name));
        if (st !== null && (st.isFile() || st.isSymbolicLink())) fs.rmSync(path.join(dir, name), { force: true });
      }
    } catch { /* old manifest unreadable: leave files alone */ }
  }
  fsyncDirSync(dir);
}

/** True for a '/'-separated relative path with no empty, '.', '..' or backslash-holding component. */
function isPlainRelativePath(rel: string): boolean {
  return !path.isAbsolute(rel) && rel.split('/').every((p) => p !== '' && p !== '.' && p !== '..' && !p.includes('\\'));
}

/**
 * Reads `rel` (a '/'-separated path inside `dir`) safely: no component may be '', '.', '..' or a
 * symbolic link, the file must be a regular file, and its size (from fstat on the opened descriptor) is
 * checked against `limits` before anything is read. Errors start with `${op}: <file>`.
 */
export function readDirFile(dir: string, rel: string, limits: ReadLimits, op = 'load'): { bytes: Buffer; file: string } {
  const parts = rel.split('/');
  const file = path.join(dir, ...parts);
  if (!isPlainRelativePath(rel)) {
    throw new Error(`${op}: '${rel}' is not a plain path inside the model directory '${dir}'`);
  }
  let sub = dir;
  for (let i = 0; i < parts.length; i++) {
    sub = path.join(sub, parts[i]);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(sub);
    } catch (err) {
      throw new Error(`${op}: ${file}: cannot read: ${(err as Error).message}`);
    }
    const last = i === parts.length - 1;
    if (st.isSymbolicLink()) {
      throw new Error(`${op}: ${sub} is a symbolic link; the files of a model directory must be regular files inside it (copy the file in)`);
    }
    if (last ? !st.isFile() : !st.isDirectory()) {
      throw new Error(`${op}: ${sub} is ${kindOf(st)}, not a ${last ? 'regular file' : 'folder'}`);
    }
  }
  // O_NOFOLLOW: a symlink swapped in after the check above is refused too.
  return { bytes: readRegularFileSync(file, { ...limits, noFollow: true }, op), file };
}

/** What readManifest found about the manifest's own digest. */
export type ManifestDigestState = 'verified' | 'absent' | 'skipped';

export interface ReadManifestOptions {
  /** Check the manifest's digest (default true). */
  verify?: boolean;
  /**
   * Runs on the parsed object before the digest and the files table are checked (so that, for example,
   * an unsupported format version is reported as such); returns whether the digest is required.
   */
  checkFormat?(raw: Record<string, unknown>, manifestPath: string): { digestRequired: boolean };
}

/**
 * Reads and parses a directory's manifest, checks its own digest (required when checkFormat says so;
 * skipped when verify is false) and its files table. Errors name the file and the problem.
 */
export function readManifest(dir: string, options: ReadManifestOptions = {}): { manifest: Manifest; manifestPath: string; digest: ManifestDigestState } {
  const manifestPath = path.join(dir, MANIFEST_NAME);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new Error(`load: model directory '${dir}' does not exist`);
  }
  if (!stat.isDirectory()) throw new Error(`load: '${dir}' is not a directory (a saved model is a directory holding ${MANIFEST_NAME})`);
  if (lstatOrNull(manifestPath) === null) throw new Error(`load: ${manifestPath} not found ('${dir}' is not a saved myelin model)`);
  const text = readDirFile(dir, MANIFEST_NAME, { maxBytes: MAX_MANIFEST_BYTES }).bytes.toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`load: ${manifestPath} is not valid JSON (corrupted?): ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`load: ${manifestPath}: not a JSON object`);
  const m = raw as Record<string, unknown>;
  const { digestRequired } = options.checkFormat?.(m, manifestPath) ?? { digestRequired: false };
  let digest: ManifestDigestState = 'absent';
  if (Object.prototype.hasOwnProperty.call(m, DIGEST_KEY)) {
    const d = m[DIGEST_KEY];
    if (typeof d !== 'string' || !SHA256_HEX.test(d)) throw new Error(`load: ${manifestPath}: '${DIGEST_KEY}' must be 64 lowercase hex digits (the file is damaged)`);
    if (options.verify === false) digest = 'skipped';
    else if (d !== manifestDigest(m)) {
      throw new Error(`load: ${manifestPath}: the sha256 of its contents does not match its '${DIGEST_KEY}' (damaged or edited after saving; load with { verify: false } to skip integrity checks)`);
    } else digest = 'verified';
  } else if (digestRequired) {
    throw new Error(`load: ${manifestPath}: its '${DIGEST_KEY}' is missing (this format version always has one: the file is damaged)`);
  }
  const files = m.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) throw new Error(`load: ${manifestPath}: missing the 'files' table`);
  for (const [role, e] of Object.entries(files as Record<string, unknown>)) {
    const entry = e as Partial<FileEntry> | null;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || Object.keys(entry).sort().join() !== 'bytes,path,sha256' ||
      typeof entry.path !== 'string' || !Number.isSafeInteger(entry.bytes) || (entry.bytes as number) < 0 ||
      typeof entry.sha256 !== 'string' || !SHA256_HEX.test(entry.sha256)) {
      throw new Error(`load: ${manifestPath}: files.${role} must be { path, bytes, sha256 }`);
    }
    if (!isPlainRelativePath(entry.path)) {
      throw new Error(`load: ${manifestPath}: files.${role} path '${entry.path}' leaves the model directory or is not a plain relative path`);
    }
  }
  return { manifest: raw as Manifest, manifestPath, digest };
}

/**
 * Reads one data file listed in the manifest: its size must be the recorded one (checked before
 * reading) and, unless verify is false, its sha256 too. Returns the bytes.
 */
export function readListedFile(dir: string, manifest: Manifest, role: string, verify = true): { bytes: Buffer; file: string } {
  const entry = manifest.files[role];
  if (entry === undefined) throw new Error(`load: ${path.join(dir, MANIFEST_NAME)} lists no '${role}' file`);
  const { bytes, file } = readDirFile(dir, entry.path, {
    bytes: entry.bytes, expectedFrom: `${MANIFEST_NAME} records ${entry.bytes} (truncated or replaced after saving)`,
  });
  if (verify) {
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== entry.sha256) {
      throw new Error(`load: ${file}: sha256 does not match ${MANIFEST_NAME} (file corrupted or replaced after saving; load with { verify: false } to skip this check)`);
    }
  }
  return { bytes, file };
}
