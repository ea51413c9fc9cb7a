// The native backend: loads the C++ addon (node-gyp-build, or MYELIN_ADDON_PATH) and adapts it to the Backend contract.
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';

import {
  ACTIVATION_CODE,
  FrozenPlanRegistry,
  UNARY_CODE,
  type Activation,
  type Backend,
  type BackendInfo,
  type FrozenPlan,
  type PlanLayer,
  type UnaryOp,
} from './contract';
import { jsBackend } from './js';

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

/** The raw functions exported by native/binding/addon.cc (activation / unary op as integer codes). */
export interface NativeBinding {
  gemm: Backend['gemm'];
  linearForward(
    M: number, N: number, K: number, X: Float32Array, W: Float32Array, bias: Float32Array | null,
    act: number, alpha: number, out: Float32Array, preact: Float32Array | null,
  ): void;
  linearBackward(
    M: number, N: number, K: number, X: Float32Array, W: Float32Array, Y: Float32Array,
    preact: Float32Array | null, dY: Float32Array, act: number, alpha: number, dZ: Float32Array,
    dX: Float32Array | null, dW: Float32Array, dB: Float32Array | null, accumulate: boolean,
  ): void;
  addBias: Backend['addBias'];
  colSum: Backend['colSum'];
  rowSum: Backend['rowSum'];
  add: Backend['add'];
  sub: Backend['sub'];
  mul: Backend['mul'];
  div: Backend['div'];
  scale: Backend['scale'];
  axpy: Backend['axpy'];
  unary(op: number, n: number, x: Float32Array, out: Float32Array): void;
  sum: Backend['sum'];
  activationForward(act: number, n: number, x: Float32Array, out: Float32Array, alpha: number): void;
  activationBackward(
    act: number, n: number, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array,
    alpha: number,
  ): void;
  softmax: Backend['softmax'];
  logSoftmax: Backend['logSoftmax'];
  softmaxBackward: Backend['softmaxBackward'];
  logSoftmaxBackward: Backend['logSoftmaxBackward'];
  softmaxCrossEntropy: Backend['softmaxCrossEntropy'];
  mseLoss: Backend['mseLoss'];
  mseBackward: Backend['mseBackward'];
  sgdStep: Backend['sgdStep'];
  adamStep: Backend['adamStep'];
  rmspropStep: Backend['rmspropStep'];
  /** Copies the layers' weights into C++ memory; returns an opaque handle (a type-tagged external). */
  freezePlan(layers: NativePlanLayer[]): NativeFrozenHandle;
  forwardAsync(
    M: number, layers: NativePlanLayer[] | NativeFrozenHandle, X: Float32Array, out: Float32Array, softmax: boolean,
  ): Promise<void>;
  forwardDense(
    M: number, layers: NativePlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean,
  ): void;
  info(): { simd: 'avx2' | 'scalar'; threads: number; [key: string]: unknown };
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
  'gemm', 'linearForward', 'linearBackward', 'addBias', 'colSum', 'rowSum', 'add', 'sub', 'mul',
  'div', 'scale', 'axpy', 'unary', 'sum', 'activationForward', 'activationBackward', 'softmax',
  'logSoftmax', 'softmaxBackward', 'logSoftmaxBackward', 'softmaxCrossEntropy', 'mseLoss',
  'mseBackward', 'sgdStep', 'adamStep', 'rmspropStep', 'freezePlan', 'forwardAsync', 'forwardDense', 'info',
  'setNumThreads',
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
    ? 'install a C++ toolchain (Debian/Ubuntu: apt-get install g++ make python3) and run `npm rebuild myelin`'
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
  cachedBinding = binding as NativeBinding;
  addonPath = where;
  return cachedBinding;
}

let addonPath = '';

function actCode(kernel: string, act: Activation): number {
  const code = ACTIVATION_CODE[act];
  if (code === undefined) throw new Error(`${kernel}: unknown activation '${String(act)}'`);
  return code;
}

/**
 * Below these sizes a flat kernel runs on its TypeScript twin instead of crossing N-API: a native
 * call costs ~0.12-0.25 us of fixed overhead, more than the whole loop in TypeScript for a few dozen
 * elements (measured on Zen: js add n=32 60 ns vs native 154 ns; js adamStep n=32 298 ns vs 330 ns).
 * This keeps tiny networks (XOR 2-8-1) at least as fast on the native backend as on pure TS.
 */
const SMALL_FLAT = 48;
const SMALL_OPTIM = 32;
/** Matrix products with M*N*K at or below this run in TypeScript (a 4x8x2 layer: ~40 ns vs ~200 ns). */
const SMALL_GEMM = 256;

export interface LoadNativeOptions {
  /**
   * Run kernels on tiny inputs (flat kernels <= 48 elements, optimizer steps <= 32, matrix products
   * with M*N*K <= 256) in TypeScript, where the
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
  const full = loadNativeAllSizes();
  const env = process.env.MYELIN_TINY_KERNELS_IN_JS;
  const small = options.smallCallsInJs ?? !(env === '0' || env === 'false');
  if (!small) return full;
  const js = jsBackend;
  const F = SMALL_FLAT;
  const O = SMALL_OPTIM;
  const G = SMALL_GEMM;
  return {
    ...full,
    gemm: (tA, tB, M, N, K, alpha, A, B, beta, C) =>
      (M * N * K <= G ? js.gemm(tA, tB, M, N, K, alpha, A, B, beta, C) : full.gemm(tA, tB, M, N, K, alpha, A, B, beta, C)),
    linearForward: (M, N, K, X, W, bias, act, alpha, out, preact) =>
      (M * N * K <= G
        ? js.linearForward(M, N, K, X, W, bias, act, alpha, out, preact)
        : full.linearForward(M, N, K, X, W, bias, act, alpha, out, preact)),
    linearBackward: (M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, acc) =>
      (M * N * K <= G
        ? js.linearBackward(M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, acc)
        : full.linearBackward(M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, acc)),
    add: (n, a, b, out) => (n <= F ? js.add(n, a, b, out) : full.add(n, a, b, out)),
    sub: (n, a, b, out) => (n <= F ? js.sub(n, a, b, out) : full.sub(n, a, b, out)),
    mul: (n, a, b, out) => (n <= F ? js.mul(n, a, b, out) : full.mul(n, a, b, out)),
    div: (n, a, b, out) => (n <= F ? js.div(n, a, b, out) : full.div(n, a, b, out)),
    scale: (n, a, s, out) => (n <= F ? js.scale(n, a, s, out) : full.scale(n, a, s, out)),
    axpy: (n, alpha, x, y) => (n <= F ? js.axpy(n, alpha, x, y) : full.axpy(n, alpha, x, y)),
    sum: (n, x) => (n <= F ? js.sum(n, x) : full.sum(n, x)),
    activationForward: (act, n, x, out, alpha) =>
      (n <= F ? js.activationForward(act, n, x, out, alpha) : full.activationForward(act, n, x, out, alpha)),
    activationBackward: (act, n, x, y, dy, dx, alpha) =>
      (n <= F ? js.activationBackward(act, n, x, y, dy, dx, alpha) : full.activationBackward(act, n, x, y, dy, dx, alpha)),
    mseLoss: (n, p, t) => (n <= F ? js.mseLoss(n, p, t) : full.mseLoss(n, p, t)),
    mseBackward: (n, p, t, g) => (n <= F ? js.mseBackward(n, p, t, g) : full.mseBackward(n, p, t, g)),
    sgdStep: (n, p, g, v, lr, mom, wd, nest) =>
      (n <= O ? js.sgdStep(n, p, g, v, lr, mom, wd, nest) : full.sgdStep(n, p, g, v, lr, mom, wd, nest)),
    adamStep: (n, p, g, m, v, t, lr, b1, b2, eps, wd, dec) =>
      (n <= O ? js.adamStep(n, p, g, m, v, t, lr, b1, b2, eps, wd, dec) : full.adamStep(n, p, g, m, v, t, lr, b1, b2, eps, wd, dec)),
    rmspropStep: (n, p, g, sq, buf, lr, a, eps, wd, mom) =>
      (n <= O ? js.rmspropStep(n, p, g, sq, buf, lr, a, eps, wd, mom) : full.rmspropStep(n, p, g, sq, buf, lr, a, eps, wd, mom)),
  };
}

/** The addon adapted to the contract with every call going to C++, whatever its size. */
function loadNativeAllSizes(): NativeBackend {
  const b = loadBinding();
  const backend: NativeBackend = {
    name: 'native',
    binding: b,
    info(): BackendInfo {
      const raw = b.info();
      return { ...raw, backend: 'native', simd: raw.simd, threads: raw.threads, addon: addonPath };
    },
    setNumThreads: b.setNumThreads,

    // Kernels whose binding signature equals the contract's are passed through unwrapped.
    gemm: b.gemm,
    addBias: b.addBias,
    colSum: b.colSum,
    rowSum: b.rowSum,
    add: b.add,
    sub: b.sub,
    mul: b.mul,
    div: b.div,
    scale: b.scale,
    axpy: b.axpy,
    sum: b.sum,
    softmax: b.softmax,
    logSoftmax: b.logSoftmax,
    softmaxBackward: b.softmaxBackward,
    logSoftmaxBackward: b.logSoftmaxBackward,
    softmaxCrossEntropy: b.softmaxCrossEntropy,
    mseLoss: b.mseLoss,
    mseBackward: b.mseBackward,
    sgdStep: b.sgdStep,
    adamStep: b.adamStep,
    rmspropStep: b.rmspropStep,

    // Kernels taking an activation / unary op name: map it to the binding's integer code.
    linearForward(M, N, K, X, W, bias, act, alpha, out, preact) {
      b.linearForward(M, N, K, X, W, bias, actCode('linearForward', act), alpha, out, preact);
    },
    linearBackward(M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, accumulate) {
      b.linearBackward(M, N, K, X, W, Y, preact, dY, actCode('linearBackward', act), alpha, dZ, dX, dW,
        dB, accumulate);
    },
    unary(op: UnaryOp, n, x, out) {
      const code = UNARY_CODE[op];
      if (code === undefined) throw new Error(`unary: unknown op '${String(op)}'`);
      b.unary(code, n, x, out);
    },
    activationForward(act, n, x, out, alpha) {
      b.activationForward(actCode('activationForward', act), n, x, out, alpha);
    },
    activationBackward(act, n, x, y, dy, dx, alpha) {
      b.activationBackward(actCode('activationBackward', act), n, x, y, dy, dx, alpha);
    },
    freezePlan(layers: PlanLayer[]): FrozenPlan {
      const mapped = Array.isArray(layers) ? mapPlan('freezePlan', layers) : (layers as unknown as NativePlanLayer[]);
      return frozenHandles.add(mapped, b.freezePlan(mapped));
    },
    forwardAsync(M: number, layers: FrozenPlan | PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean) {
      let arg: NativePlanLayer[] | NativeFrozenHandle;
      try {
        arg = Array.isArray(layers) ? mapPlan('forwardAsync', layers) : frozenHandles.get('forwardAsync', layers);
      } catch (err) {
        return Promise.reject(err);
      }
      return b.forwardAsync(M, arg, X, out, softmax);
    },
    forwardDense(M: number, layers: PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean) {
      if (!Array.isArray(layers)) return b.forwardDense(M, layers as unknown as NativePlanLayer[], X, out, softmax);
      b.forwardDense(M, mapPlan('forwardDense', layers), X, out, softmax);
    },
  };
  return backend;
}
