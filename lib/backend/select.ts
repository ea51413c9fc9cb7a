// Backend selection: native by default, MYELIN_BACKEND override, lazy one-time load, js fallback, info().
import { packageVersion } from '../constants';
import type { Backend, BackendInfo } from './contract';
import { jsBackend } from './js/index';
import { loadNative } from './native';

/** A compute backend: 'native' (the C++ addon) or 'js' (pure TypeScript, the same results). See setBackend and info(). */
export type BackendName = 'native' | 'js';

const BACKEND_NAMES: readonly BackendName[] = ['native', 'js'];

/** What info() reports: the active backend's facts plus the package version and any fallback reason. */
export interface SelectedBackendInfo extends BackendInfo {
  version: string;
  /** Why the native addon could not be used, when it was wanted but failed to load. */
  fallbackReason?: string;
}

let active: Backend | null = null;
let nativeBackend: Backend | null = null;
let nativeError: string | null = null;
let nativeTried = false;
let fallbackReason: string | undefined;

/** Loads the native addon once; remembers the backend or the reason it failed. */
function tryLoadNative(): Backend | null {
  if (nativeTried) return nativeBackend;
  nativeTried = true;
  try {
    // native.ts touches the addon only inside loadNative(), so importing it is always safe.
    nativeBackend = loadNative();
  } catch (err) {
    nativeError = oneLine(err instanceof Error ? err.message : String(err));
    nativeBackend = null;
  }
  return nativeBackend;
}

/** The load failure as one line (Node's require errors carry a multi-line "Require stack"). */
function oneLine(message: string): string {
  const text = message.replace(/^myelin: /, '').replace(/\s*\n\s*/g, ' ').trim();
  return text === '' ? 'unknown error' : text;
}

/** Reads MYELIN_BACKEND; undefined when unset or empty. */
function requestedBackend(): BackendName | undefined {
  const raw = process.env.MYELIN_BACKEND;
  if (raw === undefined || raw.trim() === '') return undefined;
  const v = raw.trim().toLowerCase();
  if (v === 'native' || v === 'js') return v;
  throw new Error(
    `MYELIN_BACKEND: unknown value '${raw}' (allowed values: ${BACKEND_NAMES.map((n) => `'${n}'`).join(', ')})`,
  );
}

function nativeFailure(): string {
  return nativeError ?? 'unknown error';
}

/** The active backend; chosen on the first call (env override, else native with js fallback). */
export function getBackend(): Backend {
  if (active !== null) return active;
  const wanted = requestedBackend();
  if (wanted === 'js') {
    active = jsBackend;
    return active;
  }
  const native = tryLoadNative();
  if (native !== null) {
    active = native;
    return active;
  }
  if (wanted === 'native') {
    throw new Error(`MYELIN_BACKEND=native: the native addon could not be loaded: ${nativeFailure()}`);
  }
  fallbackReason = nativeFailure();
  process.stderr.write(`myelin: native addon unavailable; using the pure TypeScript backend: ${fallbackReason}\n`);
  active = jsBackend;
  return active;
}

/**
 * Switches the active backend. 'native' throws with the load failure reason if the addon cannot load.
 * @param name 'native' (the C++ addon) or 'js' (the pure TypeScript backend).
 * @throws Error for an unknown name, or for 'native' when the addon cannot be loaded (with the reason).
 * @example
 * ```ts
 * setBackend('js');
 * ```
 */
export function setBackend(name: BackendName): void {
  if (name === 'js') {
    active = jsBackend;
    return;
  }
  if (name === 'native') {
    const native = tryLoadNative();
    if (native === null) {
      throw new Error(`setBackend: the native addon could not be loaded: ${nativeFailure()}`);
    }
    active = native;
    fallbackReason = undefined;
    return;
  }
  throw new Error(
    `setBackend: unknown backend '${String(name)}' (allowed values: ${BACKEND_NAMES.map((n) => `'${n}'`).join(', ')})`,
  );
}

/**
 * Backends that can run here: always 'js', plus 'native' when the addon loads.
 * @example availableBackends() // ['native', 'js'] where the addon loads
 */
export function availableBackends(): BackendName[] {
  return tryLoadNative() !== null ? ['native', 'js'] : ['js'];
}

/** The js backend, always available (tests and benchmarks compare against it). */
export function getJsBackend(): Backend {
  return jsBackend;
}

/** The native backend, or null with nativeLoadError() saying why. Does not change the active backend. */
export function getNativeBackend(): Backend | null {
  return tryLoadNative();
}

/** Why the native addon failed to load (null when it loaded or was never tried). */
export function nativeLoadError(): string | null {
  tryLoadNative();
  return nativeError;
}

/**
 * The active backend's info plus the package version and, after a fallback, why native failed.
 * @example info().backend // 'native' (or 'js' after a fallback)
 */
export function info(): SelectedBackendInfo {
  const b = getBackend();
  const out: SelectedBackendInfo = { ...b.info(), version: packageVersion() };
  if (b.name === 'js' && fallbackReason !== undefined) out.fallbackReason = fallbackReason;
  return out;
}
