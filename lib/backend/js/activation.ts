// TypeScript twins of the activation kernels: activationForward/Backward and the scalar math behind them (erfc, gelu).
import type { Activation } from '../kernel-table';

/**
 * Complementary error function. Chebyshev-fitted form erfc(z) = t exp(-z^2 + P(t)), t = 1/(1+z/2)
 * (Press et al., Numerical Recipes, "erfcc"): fractional error < 1.2e-7 for every z, including
 * the far tails, which keeps gelu accurate in relative terms for large negative inputs.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t * (1.00002368 +
    t * (0.37409196 +
    t * (0.09678418 +
    t * (-0.18628806 +
    t * (0.27886807 +
    t * (-1.13520398 +
    t * (1.48851587 +
    t * (-0.82215223 +
    t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_C = 0.044715;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Standard normal CDF, relative accuracy ~1e-7 on both tails. */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT2);
}

function gelu(x: number): number {
  if (x === Infinity) return x;
  if (x === -Infinity) return -0;
  return x * normalCdf(x);
}

function geluGrad(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  return normalCdf(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

// 0.5 x (1 + tanh(u)) == x * sigmoid(2u): the sigmoid form keeps the negative tail accurate.
function geluTanh(x: number): number {
  if (x === Infinity) return x;
  if (x === -Infinity) return -0;
  const u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
  return x * sigmoid(2 * u);
}

function geluTanhGrad(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  const x2 = x * x;
  const u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x2 * x);
  const s = sigmoid(2 * u);
  const du = SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * x2);
  const d = s + x * 2 * s * (1 - s) * du;
  // x*0 at huge |x| where s(1-s) underflows: the limit (a NaN input stays NaN)
  return d === d || x !== x ? d : x > 0 ? 1 : 0;
}

// The kernels: loops with the switch hoisted out.

/** out = act(x) (also the kernel activationForward). */
export function activationForward(act: Activation, n: number, x: Float32Array, out: Float32Array, alpha: number): void {
  switch (act) {
    case 'none':
      if (out !== x) for (let i = 0; i < n; i++) out[i] = x[i];
      return;
    case 'relu':
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v < 0 ? 0 : v; // NaN passes through
      }
      return;
    case 'leakyRelu':
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v > 0 ? v : alpha * v;
      }
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) out[i] = sigmoid(x[i]);
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) out[i] = gelu(x[i]);
      return;
    case 'geluTanh':
      for (let i = 0; i < n; i++) out[i] = geluTanh(x[i]);
      return;
  }
}

/** dx = dy * act'(.) (activationBackward; x may be null for the activations that read y only). */
export function activationBackward(
  act: Activation, n: number, x: Float32Array | null, y: Float32Array | null, dy: Float32Array,
  dx: Float32Array, alpha: number,
): void {
  switch (act) {
    case 'none':
      if (dx !== dy) for (let i = 0; i < n; i++) dx[i] = dy[i];
      return;
    case 'relu': {
      const yy = y as Float32Array;
      for (let i = 0; i < n; i++) dx[i] = yy[i] > 0 ? dy[i] : 0;
      return;
    }
    case 'leakyRelu': {
      const yy = y as Float32Array;
      for (let i = 0; i < n; i++) dx[i] = yy[i] > 0 ? dy[i] : alpha * dy[i];
      return;
    }
    case 'sigmoid': {
      const yy = y as Float32Array;
      for (let i = 0; i < n; i++) {
        const s = yy[i];
        dx[i] = dy[i] * s * (1 - s);
      }
      return;
    }
    case 'tanh': {
      const yy = y as Float32Array;
      for (let i = 0; i < n; i++) {
        const t = yy[i];
        dx[i] = dy[i] * (1 - t * t);
      }
      return;
    }
    case 'gelu': {
      const xx = x as Float32Array;
      // The derivative is a float32 value in C++ (gelu'(-20) ~ -1e-86 underflows to 0): round it first.
      for (let i = 0; i < n; i++) dx[i] = dy[i] * Math.fround(geluGrad(xx[i]));
      return;
    }
    case 'geluTanh': {
      const xx = x as Float32Array;
      for (let i = 0; i < n; i++) dx[i] = dy[i] * Math.fround(geluTanhGrad(xx[i]));
      return;
    }
  }
}
