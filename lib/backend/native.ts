// The native backend: loads the C++ addon (node-gyp-build, or MYELIN_ADDON_PATH) and adapts it to the Backend contract.
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';

import { actCode } from './check';
import { FrozenPlanRegistry, type Backend, type BackendInfo, type FrozenPlan, type PlanLayer } from './contract';
import { jsBackend } from './js/index';
import { bindingKernels, KERNEL_NAMES, KERNEL_TABLE_DIGEST, type KernelBinding } from './kernels.gen';

/** A plan layer as the binding takes it: the activation as its integer code. */
interface NativePlanLayer {
  N: number;
  K: number;
  W: Float32Array;
  bias: Float32Array | null;
  act: number;
  alpha: number;
}

/** What the binding's freezePlan returns: an external value only the binding can read. */
export type NativeFrozenHandle = object & { readonly __nativeFrozenPlan: unique symbol };

/**
 * The raw functions exported by native/binding/addon.cc: the table's kernels (positional,
 * activation / unary op as integer codes; typed in kernels.gen.ts) and the plan and runtime functions.
 */
export interface NativeBinding extends KernelBinding {
  /** Copies the layers' weights into C++ memory; returns an opaque handle (a type-tagged external). */
  freezePlan(layers: NativePlanLayer[]): NativeFrozenHandle;
  forwardAsync(
    M: number, layers: NativePlanLayer[] | NativeFrozenHandle, X: Float32Array, out: Float32Array, softmax: boolean, handOver?: boolean,
  ): Promise<void>;
  forwardDense(
    M: number, layers: NativePlanLayer[] | NativeFrozenHandle, X: Float32Array, out: Float32Array, softmax: boolean,
  ): void;
  info(): { simd: 'avx2' | 'scalar'; threads: number; kernelTable?: string; [key: string]: unknown };
  setNumThreads(n: number): void;
}

/** The native Backend plus native-only controls. */
export interface NativeBackend extends Backend {
  readonly name: 'native';
  /** Sets the number of threads the kernels may use (1..256). */
  setNumThreads(n: number): void;
  /** The raw binding (integer codes instead of names), for benchmarks and binding tests. */
  readonly binding: NativeBinding;
}

const BINDING_FUNCTIONS: readonly (keyof NativeBinding)[] = [
  ...KERNEL_NAMES, 'freezePlan', 'forwardAsync', 'forwardDense', 'info', 'setNumThreads',
];

/** The package root (the directory holding myelin's package.json), from lib/backend or dist/backend. */
function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        const name = (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: unknown }).name;
        if (name === 'myelin') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.resolve(__dirname, '..', '..');
}

/**
 * The .node file to load: MYELIN_ADDON_PATH when set, else what node-gyp-build picks for the
 * package root (build/Release, build/Debug, then prebuilds/<platform>-<arch>/). Throws if none.
 */
export function resolveAddonPath(): string {
  const override = process.env.MYELIN_ADDON_PATH;
  if (override !== undefined && override !== '') {
    const file = path.resolve(override);
    if (!fs.existsSync(file)) throw new Error(`MYELIN_ADDON_PATH: ${file} not found`);
    return file;
  }
  const requireHere = createRequire(__filename);
  const nodeGypBuild = requireHere('node-gyp-build') as { resolve(dir: string): string };
  return nodeGypBuild.resolve(packageRoot());
}

/**
 * What a user can run to get the native backend: in an installed package (under node_modules)
 * `npm rebuild myelin` with a compiler; in the source tree `npm run build:native`.
 */
export function nativeFix(root: string = packageRoot()): string {
  const installed = root.split(path.sep).includes('node_modules');
  const build = installed
    ? 'install a C++ toolchain (Debian/Ubuntu: apt-get install g++ make python3) and node-addon-api (`npm install node-addon-api`), then run `npm rebuild myelin`'
    : 'build it with `npm run build:native` (needs g++, make and python3)';
  return `To use the native backend, ${build}; MYELIN_BACKEND=js selects the pure-TypeScript backend without this message.`;
}

/** Why no addon was found or loaded, in one sentence (node-gyp-build's own message is a long dump). */
export function describeLoadFailure(root: string, where: string | null, why: string): string {
  const override = process.env.MYELIN_ADDON_PATH;
  if (override !== undefined && override !== '') {
    const what = why.startsWith('MYELIN_ADDON_PATH') ? why : `MYELIN_ADDON_PATH=${override}: ${why}`;
    return `${what}. Point MYELIN_ADDON_PATH at a built myelin.node or unset it.`;
  }
  let text: string;
  if (where === null || /No native build was found/.test(why)) {
    text = `no native addon for ${process.platform}-${process.arch} in ${root} ` +
      `(neither prebuilds/${process.platform}-${process.arch}/*.node nor build/Release/myelin.node)`;
  } else {
    text = `the native addon ${where} could not be loaded: ${why}`;
  }
  const log = path.join(root, 'build', 'myelin-install.log');
  if (fs.existsSync(log)) text += `; compiling it at install failed (log: ${log})`;
  return `${text}. ${nativeFix(root)}`;
}

let cachedBinding: NativeBinding | null = null;

/** Loads the raw binding (once per thread); throws an Error saying why it could not be loaded and what to run. */
export function loadBinding(): NativeBinding {
  if (cachedBinding !== null) return cachedBinding;
  const root = packageRoot();
  let where: string | null = null;
  let loaded: unknown;
  try {
    where = resolveAddonPath();
    loaded = createRequire(__filename)(where);
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split('\n')[0].replace(/\.$/, '');
    throw new Error(`myelin: ${describeLoadFailure(root, where, why)}`);
  }
  const binding = loaded as Partial<NativeBinding> | null;
  for (const fn of BINDING_FUNCTIONS) {
    if (binding === null || typeof binding !== 'object' || typeof binding[fn] !== 'function') {
      throw new Error(
        `myelin: the native addon at ${where} has no function '${fn}' (built from older sources). ${nativeFix(root)}`,
      );
    }
  }
  const built = (binding as NativeBinding).info().kernelTable;
  if (built !== KERNEL_TABLE_DIGEST) {
    throw new Error(
      `myelin: the native addon at ${where} was built from another kernel table (${String(built)}, ` +
        `this package has ${KERNEL_TABLE_DIGEST}; stale build? run \`npm run build:native\`)`,
    );
  }
  cachedBinding = binding as NativeBinding;
  addonPath = where;
  return cachedBinding;
}

let addonPath = '';

export interface LoadNativeOptions {
  /**
   * Run kernels on tiny inputs (each kernel's smallInJs in kernel-table.ts: elementwise kernels <= 48
   * elements, optimizer steps <= 32; never matrix products) in TypeScript, where the
   * call overhead would dominate. Default true; MYELIN_TINY_KERNELS_IN_JS=0 turns it off. Tests turn
   * it off to exercise the C++ kernels at every size.
   */
  smallCallsInJs?: boolean;
}

/** The binding handles behind the FrozenPlans this module made. */
const frozenHandles = new FrozenPlanRegistry<NativeFrozenHandle>('native');

/** Plan layers with the activation as the binding's integer code. */
function mapPlan(kernel: string, layers: PlanLayer[]): NativePlanLayer[] {
  return layers.map((l, i) => {
    if (l === null || typeof l !== 'object') {
      throw new Error(`${kernel}: layers[${i}] must be an object {N, K, W, bias, act, alpha}`);
    }
    return { N: l.N, K: l.K, W: l.W, bias: l.bias, act: actCode(`${kernel}: layers[${i}]`, l.act), alpha: l.alpha };
  });
}

/** Loads the addon and adapts it to the Backend contract; throws an Error saying why it could not. */
export function loadNative(options: LoadNativeOptions = {}): NativeBackend {
  const b = loadBinding();
  const env = process.env.MYELIN_TINY_KERNELS_IN_JS;
  const small = options.smallCallsInJs ?? !(env === '0' || env === 'false');
  return {
    name: 'native',
    binding: b,
    info(): BackendInfo {
      const raw = b.info();
      return { ...raw, backend: 'native', simd: raw.simd, threads: raw.threads, addon: addonPath };
    },
    setNumThreads: b.setNumThreads,
    ...bindingKernels(b, small ? jsBackend : null),
    freezePlan(layers: PlanLayer[]): FrozenPlan {
      const mapped = Array.isArray(layers) ? mapPlan('freezePlan', layers) : (layers as unknown as NativePlanLayer[]);
      return frozenHandles.add(mapped, b.freezePlan(mapped));
    },
    forwardAsync(M: number, layers: FrozenPlan | PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean, handOver?: boolean) {
      let arg: NativePlanLayer[] | NativeFrozenHandle;
      try {
        arg = Array.isArray(layers) ? mapPlan('forwardAsync', layers) : frozenHandles.get('forwardAsync', layers);
      } catch (err) {
        return Promise.reject(err);
      }
      return handOver === undefined ? b.forwardAsync(M, arg, X, out, softmax) : b.forwardAsync(M, arg, X, out, softmax, handOver);
    },
    forwardDense(M: number, layers: FrozenPlan | PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean) {
      b.forwardDense(M, Array.isArray(layers) ? mapPlan('forwardDense', layers) : frozenHandles.get('forwardDense', layers), X, out, softmax);
    },
  };
}
