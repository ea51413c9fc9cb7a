// Backend selection: MYELIN_BACKEND override, unknown values, setBackend switching, info(), the js fallback.
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';

type SelectModule = typeof import('../lib/backend/select');

const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
const FALLBACK_LINE = /^myelin: native addon unavailable; using the pure TypeScript backend: (.+)\n$/;
const MISSING_ADDON = path.join(__dirname, 'no-such-dir', 'myelin-missing.node');

/** A fresh copy of select.ts (and everything it imports), so each test starts unloaded. */
async function freshSelect(): Promise<SelectModule> {
  vi.resetModules();
  return import('../lib/backend/select');
}

/** Captures what is written to stderr while the spy is installed. */
function captureStderr(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stderr.write);
  return lines;
}

const nativeRequired = (process.env.MYELIN_BACKEND ?? '').trim().toLowerCase() !== 'js';

describe('backend selection', () => {
  beforeEach(() => {
    vi.unstubAllEnvs();
    vi.stubEnv('MYELIN_BACKEND', '');
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  test('MYELIN_BACKEND=js forces the js backend without touching stderr', async () => {
    vi.stubEnv('MYELIN_BACKEND', 'js');
    const stderr = captureStderr();
    const sel = await freshSelect();
    expect(sel.getBackend().name).toBe('js');
    expect(sel.info()).toMatchObject({ backend: 'js', simd: 'none', threads: 1, version: PACKAGE_VERSION });
    expect(sel.info().fallbackReason).toBeUndefined();
    expect(stderr).toEqual([]);
  });

  test('an unknown MYELIN_BACKEND value is an error naming the variable and the allowed values', async () => {
    vi.stubEnv('MYELIN_BACKEND', 'cuda');
    const sel = await freshSelect();
    expect(() => sel.getBackend()).toThrow("MYELIN_BACKEND: unknown value 'cuda' (allowed values: 'native', 'js')");
  });

  test('setBackend switches between backends; unknown names are rejected', async () => {
    const sel = await freshSelect();
    sel.setBackend('js');
    expect(sel.getBackend().name).toBe('js');
    expect(sel.info().backend).toBe('js');
    expect(() => sel.setBackend('gpu' as 'js')).toThrow("setBackend: unknown backend 'gpu' (allowed values: 'native', 'js')");
    const available = sel.availableBackends();
    expect(available).toContain('js');
    if (nativeRequired) {
      // The native addon must load here (use MYELIN_BACKEND=js to test the js backend alone).
      expect(available, `native addon failed to load: ${sel.nativeLoadError()}`).toContain('native');
    }
    if (available.includes('native')) {
      sel.setBackend('native');
      expect(sel.getBackend().name).toBe('native');
      const i = sel.info();
      expect(i.backend).toBe('native');
      expect(['avx2', 'scalar']).toContain(i.simd);
      expect(i.threads).toBeGreaterThanOrEqual(1);
      expect(i.version).toBe(PACKAGE_VERSION);
      sel.setBackend('js');
      expect(sel.getBackend().name).toBe('js');
    } else {
      expect(() => sel.setBackend('native')).toThrow(/^setBackend: the native addon could not be loaded: .+/);
      expect(sel.getBackend().name).toBe('js');
    }
  });

  test('the default is native when the addon loads', async () => {
    const stderr = captureStderr();
    const sel = await freshSelect();
    const b = sel.getBackend();
    if (nativeRequired) expect(b.name, `native addon failed to load: ${sel.nativeLoadError()}`).toBe('native');
    if (b.name === 'native') {
      expect(stderr).toEqual([]);
      expect(sel.info().fallbackReason).toBeUndefined();
    }
  });

  test('MYELIN_BACKEND=native is honoured (and is the same as the default)', async () => {
    vi.stubEnv('MYELIN_BACKEND', 'native');
    const sel = await freshSelect();
    if (sel.availableBackends().includes('native') || nativeRequired) {
      expect(sel.getBackend().name).toBe('native');
    } else {
      expect(() => sel.getBackend()).toThrow(/^MYELIN_BACKEND=native: the native addon could not be loaded: .+/);
    }
  });

  test('an unloadable addon: one stderr line, the js backend, fallbackReason in info()', async () => {
    vi.stubEnv('MYELIN_ADDON_PATH', MISSING_ADDON);
    const stderr = captureStderr();
    const sel = await freshSelect();
    expect(stderr).toEqual([]); // loading is lazy: nothing happens at import
    const b = sel.getBackend();
    expect(b.name).toBe('js');
    expect(stderr).toHaveLength(1);
    const m = FALLBACK_LINE.exec(stderr[0]);
    expect(m, `stderr line: ${JSON.stringify(stderr[0])}`).not.toBeNull();
    const i = sel.info();
    expect(i).toMatchObject({ backend: 'js', simd: 'none', threads: 1, version: PACKAGE_VERSION });
    expect(i.fallbackReason).toBe(m?.[1]);
    // Loading happens once: later calls neither retry nor print again.
    expect(sel.getBackend()).toBe(b);
    sel.info();
    expect(sel.availableBackends()).toEqual(['js']);
    expect(stderr).toHaveLength(1);
    // Asking for native explicitly is a clear error carrying the reason.
    expect(() => sel.setBackend('native')).toThrow(/^setBackend: the native addon could not be loaded: .+/);
    expect(sel.getBackend().name).toBe('js');
  });

  test('an unloadable addon with MYELIN_BACKEND=native is an error, not a silent fallback', async () => {
    vi.stubEnv('MYELIN_ADDON_PATH', MISSING_ADDON);
    vi.stubEnv('MYELIN_BACKEND', 'native');
    const stderr = captureStderr();
    const sel = await freshSelect();
    expect(() => sel.getBackend()).toThrow(/^MYELIN_BACKEND=native: the native addon could not be loaded: .+/);
    expect(stderr).toEqual([]);
  });
});
