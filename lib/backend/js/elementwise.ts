// TypeScript twins of the flat elementwise kernels: add, sub, mul, div, scale, axpy, unary, addBias.
import type { UnaryOp } from '../kernel-table';

export function add(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

export function sub(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let i = 0; i < n; i++) out[i] = a[i] - b[i];
}

export function mul(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
}

export function div(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let i = 0; i < n; i++) out[i] = a[i] / b[i];
}

export function scale(n: number, a: Float32Array, s: number, out: Float32Array): void {
  const sf = Math.fround(s); // the scalar crosses as a float32, as in C++
  for (let i = 0; i < n; i++) out[i] = sf * a[i];
}

export function axpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void {
  const af = Math.fround(alpha);
  for (let i = 0; i < n; i++) y[i] += af * x[i];
}

export function addBias(M: number, N: number, x: Float32Array, bias: Float32Array, out: Float32Array): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    for (let j = 0; j < N; j++) out[o + j] = x[o + j] + bias[j];
  }
}

export function unary(op: UnaryOp, n: number, x: Float32Array, out: Float32Array): void {
  switch (op) {
    case 'exp':
      for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]);
      return;
    case 'log':
      for (let i = 0; i < n; i++) out[i] = Math.log(x[i]);
      return;
    case 'sqrt':
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]);
      return;
    case 'neg':
      for (let i = 0; i < n; i++) out[i] = -x[i];
      return;
    case 'abs':
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]);
      return;
    case 'square':
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v * v;
      }
      return;
    case 'reciprocal':
      for (let i = 0; i < n; i++) out[i] = 1 / x[i];
      return;
  }
}
