// Test helpers: central finite-difference gradient checks, seeded random inputs, and the backends to test on.
import { Tensor } from '../../lib/tensor';
import { Rng } from '../../lib/random';
import { freshSeed } from './reference';
import { noGrad } from '../../lib/autograd';
import { availableBackends, setBackend, type BackendName } from '../../lib/backend/select';

/**
 * Backends every op test runs on: always 'js', plus 'native' unless MYELIN_BACKEND=js. The native
 * backend is expected to load; if it does not, the native suite fails in setBackend (on purpose).
 */
export function backendsUnderTest(): BackendName[] {
  return process.env.MYELIN_BACKEND === 'js' ? ['js'] : ['js', 'native'];
}

export { availableBackends, setBackend };

/** A fresh seed for this run (MYELIN_TEST_SEED replays one), plus a generator; the seed goes into every failure message. */
export function freshRng(): { seed: number; rng: Rng } {
  const seed = freshSeed();
  return { seed, rng: new Rng(seed) };
}

/** A tensor of uniform values in [-scale, scale] whose entries keep at least `margin` away from `kinks`. */
export function randomTensor(
  rng: Rng, shape: number[], opts: { scale?: number; margin?: number; kinks?: number[]; positive?: boolean } = {},
): Tensor {
  const scale = opts.scale ?? 1;
  const margin = opts.margin ?? 0;
  const kinks = opts.kinks ?? [];
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do {
      v = opts.positive ? 0.2 + scale * rng.next() : scale * (2 * rng.next() - 1);
    } while (kinks.some((k) => Math.abs(v - k) < margin));
    data[i] = v;
  }
  return new Tensor(data, shape, true);
}

/**
 * A tensor (requiring grad) holding a shuffled ladder of values 0.1 apart, so a 1e-2 finite-difference
 * perturbation never changes which element is the max or min (for max/min/clamp-like ops).
 */
export function ladderTensor(rng: Rng, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [vals[i], vals[j]] = [vals[j], vals[i]];
  }
  return new Tensor(Float32Array.from(vals), shape, true);
}

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  /** Relative tolerance per element. */
  rtol?: number;
  /** Absolute tolerance per element. */
  atol?: number;
  /** Text prepended to failure messages (put the seed here). */
  label?: string;
}

/**
 * Compares the autograd gradient of L = sum(f(inputs) * W) (W fixed random weights, so every output
 * element matters with a different weight) against central finite differences
 * (L(x + eps) - L(x - eps)) / (2 eps), where L is accumulated in float64 from the float32 outputs.
 *
 * Tolerance: ops compute in float32 (unit roundoff u = 6e-8). With outputs of magnitude ~1 and
 * n terms, the float32 rounding noise in L is ~u * sqrt(n) * |L| ~ 1e-6, so the FD roundoff error is
 * ~1e-6 / eps ~ 1e-4 at eps = 1e-2, and the truncation error is ~eps^2 |f'''| / 6 ~ 2e-5.
 * Kernels like exp/tanh carry a few ULP more. rtol = 1e-2 with atol = 2e-3 leaves a wide margin over
 * both while still catching any wrong rule (a wrong rule is off by O(1), a missing broadcast
 * reduction by a factor of the broadcast size).
 */
export function gradcheck(f: (inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): void {
  const eps = opts.eps ?? 1e-2;
  const rtol = opts.rtol ?? 1e-2;
  const atol = opts.atol ?? 2e-3;
  const label = opts.label ? `${opts.label}: ` : '';

  for (const t of inputs) t.grad = null;
  const out = f(inputs);
  const wRng = new Rng(12345);
  const weights = new Float64Array(out.size);
  for (let i = 0; i < weights.length; i++) weights[i] = 0.5 + wRng.next();
  const weightT = new Tensor(Float32Array.from(weights), out.shape);
  out.backward(weightT);

  const lossAt = (): number => {
    const y = noGrad(() => f(inputs));
    let s = 0;
    for (let i = 0; i < y.size; i++) s += y.data[i] * weights[i];
    return s;
  };

  for (let k = 0; k < inputs.length; k++) {
    const t = inputs[k];
    if (!t.requiresGrad) continue;
    if (t.grad === null) throw new Error(`${label}input ${k} (shape [${t.shape}]) got no gradient`);
    const analytic = t.grad.data;
    for (let i = 0; i < t.size; i++) {
      const orig = t.data[i];
      t.data[i] = orig + eps;
      const up = lossAt();
      t.data[i] = orig - eps;
      const down = lossAt();
      t.data[i] = orig;
      // The perturbation actually applied is what float32 stored, not eps.
      const h = (Math.fround(orig + eps) - Math.fround(orig - eps));
      const numeric = (up - down) / h;
      const a = analytic[i];
      const err = Math.abs(a - numeric);
      if (!(err <= atol + rtol * Math.max(Math.abs(a), Math.abs(numeric)))) {
        throw new Error(
          `${label}gradient mismatch for input ${k} (shape [${t.shape}]) element ${i}: ` +
            `autograd ${a}, finite difference ${numeric} (|diff| ${err.toExponential(2)})`,
        );
      }
    }
  }
}
