// Test helper: the backends the kernel tests must cover (js always; native unless MYELIN_BACKEND=js).
import type { Backend } from '../../lib/backend/contract';
import { getJsBackend, getNativeBackend, nativeLoadError } from '../../lib/backend/select';
import { loadNative } from '../../lib/backend/native';

export interface BackendUnderTest {
  name: 'native' | 'js';
  /** Human-readable label for test titles (the native backend is tested twice, see below). */
  label: string;
  /** The backend, or null when it should be tested but failed to load (the test must fail). */
  backend: Backend | null;
  loadError: string | null;
}

/**
 * native is required unless MYELIN_BACKEND=js; if it cannot load, the entry carries the reason.
 * The native backend appears twice: first with every call in C++ (so the C++ kernels are checked at
 * tiny sizes too), then as users get it (tiny flat kernels routed to their TypeScript twins).
 */
export function backendsUnderTest(): BackendUnderTest[] {
  const list: BackendUnderTest[] = [{ name: 'js', label: 'js', backend: getJsBackend(), loadError: null }];
  if ((process.env.MYELIN_BACKEND ?? '').trim().toLowerCase() !== 'js') {
    const native = getNativeBackend();
    const loadError = native === null ? nativeLoadError() : null;
    list.unshift({ name: 'native', label: 'native', backend: native, loadError });
    list.unshift({
      name: 'native',
      label: 'native, C++ at every size',
      backend: native === null ? null : loadNative({ smallCallsInJs: false }),
      loadError,
    });
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
