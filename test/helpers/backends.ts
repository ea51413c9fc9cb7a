// Test helper: the backends the kernel tests must cover (js always; native unless MYELIN_BACKEND=js).
import type { Backend } from '../../lib/backend/contract';
import { getJsBackend, getNativeBackend, nativeLoadError } from '../../lib/backend/select';

export interface BackendUnderTest {
  name: 'native' | 'js';
  /** The backend, or null when it should be tested but failed to load (the test must fail). */
  backend: Backend | null;
  loadError: string | null;
}

/** native is required unless MYELIN_BACKEND=js; if it cannot load, the entry carries the reason. */
export function backendsUnderTest(): BackendUnderTest[] {
  const list: BackendUnderTest[] = [{ name: 'js', backend: getJsBackend(), loadError: null }];
  if ((process.env.MYELIN_BACKEND ?? '').trim().toLowerCase() !== 'js') {
    const native = getNativeBackend();
    list.unshift({ name: 'native', backend: native, loadError: native === null ? nativeLoadError() : null });
  }
  return list;
}

/** The backend, or an Error explaining that native was required but failed to load. */
export function requireBackend(b: BackendUnderTest): Backend {
  if (b.backend === null) {
    throw new Error(
      `the ${b.name} backend failed to load (${b.loadError ?? 'unknown reason'}); ` +
        'set MYELIN_BACKEND=js to test only the pure TypeScript backend',
    );
  }
  return b.backend;
}
