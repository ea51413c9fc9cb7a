// Crash-safe multi-file model directories: stage files, commit through model.json, promote to canonical names.
//
// A model directory holds model.json (the manifest) and the data files it lists with their sizes and
// sha256 digests. model.json is the single commit point: it is replaced atomically, and only after
// every file it names is complete and fsynced. A save runs in two commits so that the canonical file
// names (model.safetensors, ...) can be replaced without ever leaving a manifest that points to a
// file of the wrong generation:
//   1. write the new files into a fresh hidden staging folder (.staging-<id>/), fsync them;
//   2. commit model.json listing the staged paths      -> readers now see the new model;
//   3. hard-link (or copy) each staged file over its canonical name (atomic rename);
//   4. commit model.json listing the canonical paths, then remove the staging folder.
// A crash anywhere leaves model.json naming complete files of one generation: the old model before
// step 2, the new one after. Leftover staging folders are removed by the next save.
import * as fs from 'fs';
import * as path from 'path';
import { createHash, randomBytes } from 'crypto';
import { FileContents, writeFileAtomicSync, replaceWithCopySync, fsyncDirSync } from './atomic';

/** The manifest's file name inside a model directory. */
export const MANIFEST_NAME = 'model.json';

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

function serialise(manifest: Manifest): string {
  return JSON.stringify(manifest, null, 2) + '\n';
}

/** Removes staging folders left by interrupted saves (never the one the current manifest uses). */
function removeStaleStaging(dir: string, keep: Set<string>): void {
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(STAGING_PREFIX) && !keep.has(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    else if (name.startsWith('.') && name.includes('.tmp-')) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function stagingFoldersIn(manifestText: string | null): Set<string> {
  const keep = new Set<string>();
  if (manifestText === null) return keep;
  try {
    const m = JSON.parse(manifestText) as Partial<Manifest>;
    for (const f of Object.values(m.files ?? {})) {
      const first = f.path.split(/[\\/]/)[0];
      if (first.startsWith(STAGING_PREFIX)) keep.add(first);
    }
  } catch { /* unreadable manifest: nothing to keep */ }
  return keep;
}

/**
 * Writes `files` plus a manifest (`manifest` with a `files` table added) into `dir`, crash-safely.
 * Files previously listed but not written now are dropped from the manifest (their files removed).
 */
export function commitModelDir(dir: string, files: readonly FileToWrite[], manifest: Omit<Manifest, 'files'>): void {
  fs.mkdirSync(dir, { recursive: true });
  const manifestPath = path.join(dir, MANIFEST_NAME);
  let previous: string | null = null;
  try { previous = fs.readFileSync(manifestPath, 'utf8'); } catch { /* first save */ }
  removeStaleStaging(dir, stagingFoldersIn(previous));

  const stagingName = `${STAGING_PREFIX}${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const staging = path.join(dir, stagingName);
  fs.mkdirSync(staging);
  fsyncDirSync(dir);

  const staged: Record<string, FileEntry> = {};
  const canonical: Record<string, FileEntry> = {};
  for (const f of files) {
    if (f.name.includes('/') || f.name.includes('\\') || f.name === MANIFEST_NAME || f.name.startsWith('.')) {
      throw new Error(`model directory: invalid data file name '${f.name}'`);
    }
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
  // Data files of the previous save that this one does not write (e.g. optimizer state) go away.
  if (previous !== null) {
    try {
      const old = JSON.parse(previous) as Partial<Manifest>;
      const names = new Set(files.map((f) => f.name));
      for (const entry of Object.values(old.files ?? {})) {
        if (!entry.path.includes('/') && !names.has(entry.path) && entry.path !== MANIFEST_NAME) {
          fs.rmSync(path.join(dir, entry.path), { force: true });
        }
      }
    } catch { /* old manifest unreadable: leave files alone */ }
  }
  fsyncDirSync(dir);
}

/** Reads and parses a directory's manifest; errors name the file and the problem. */
export function readManifest(dir: string): { manifest: Manifest; manifestPath: string } {
  const manifestPath = path.join(dir, MANIFEST_NAME);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new Error(`load: model directory '${dir}' does not exist`);
  }
  if (!stat.isDirectory()) throw new Error(`load: '${dir}' is not a directory (a saved model is a directory holding ${MANIFEST_NAME})`);
  let text: string;
  try {
    text = fs.readFileSync(manifestPath, 'utf8');
  } catch {
    throw new Error(`load: ${manifestPath} not found ('${dir}' is not a saved myelin model)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`load: ${manifestPath} is not valid JSON (corrupted?): ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`load: ${manifestPath}: not a JSON object`);
  const files = (raw as { files?: unknown }).files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) throw new Error(`load: ${manifestPath}: missing the 'files' table`);
  for (const [role, e] of Object.entries(files as Record<string, unknown>)) {
    const entry = e as Partial<FileEntry> | null;
    if (entry === null || typeof entry !== 'object' || typeof entry.path !== 'string' || !Number.isSafeInteger(entry.bytes) ||
      typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
      throw new Error(`load: ${manifestPath}: files.${role} must be { path, bytes, sha256 }`);
    }
    const normal = path.normalize(entry.path);
    if (path.isAbsolute(entry.path) || normal.startsWith('..')) throw new Error(`load: ${manifestPath}: files.${role} path '${entry.path}' leaves the model directory`);
  }
  return { manifest: raw as Manifest, manifestPath };
}

/**
 * Reads one data file listed in the manifest and checks its size and (unless verify is false) its
 * sha256 against the manifest. Returns the bytes.
 */
export function readListedFile(dir: string, manifest: Manifest, role: string, verify = true): { bytes: Buffer; file: string } {
  const entry = manifest.files[role];
  if (entry === undefined) throw new Error(`load: ${path.join(dir, MANIFEST_NAME)} lists no '${role}' file`);
  const file = path.join(dir, entry.path);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`load: ${file}: cannot read: ${(err as Error).message}`);
  }
  if (verify) {
    if (bytes.length !== entry.bytes) {
      throw new Error(`load: ${file} is ${bytes.length} bytes but ${MANIFEST_NAME} records ${entry.bytes} (truncated or replaced after saving)`);
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== entry.sha256) {
      throw new Error(`load: ${file}: sha256 does not match ${MANIFEST_NAME} (file corrupted or replaced after saving; load with { verify: false } to skip this check)`);
    }
  }
  return { bytes, file };
}
