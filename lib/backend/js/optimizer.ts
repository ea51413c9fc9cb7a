// TypeScript twins of the optimizer steps: sgdStep, adamStep, rmspropStep (PyTorch semantics; state rounded to float32 as in C++).

export function sgdStep(
  n: number, param: Float32Array, grad: Float32Array, velocity: Float32Array | null,
  lr: number, momentum: number, weightDecay: number, nesterov: boolean,
): void {
  if (momentum === 0 || velocity === null) {
    // velocity is null only when momentum == 0 (the checks require it otherwise)
    for (let i = 0; i < n; i++) {
      const g = grad[i] + weightDecay * param[i];
      param[i] -= lr * g;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const g = grad[i] + weightDecay * param[i];
    const v = Math.fround(momentum * velocity[i] + g);
    velocity[i] = v;
    param[i] -= lr * (nesterov ? g + momentum * v : v);
  }
}

export function adamStep(
  n: number, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, step: number,
  lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean,
): void {
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  const stepSize = lr / bc1;
  const decay = decoupled ? 1 - lr * weightDecay : 1;
  const l2 = decoupled ? 0 : weightDecay;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const p = param[i] * decay;
    const g = grad[i] + l2 * p;
    const mi = Math.fround(beta1 * m[i] + c1 * g);
    const vi = Math.fround(beta2 * v[i] + c2 * g * g);
    m[i] = mi;
    v[i] = vi;
    param[i] = p - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

export function rmspropStep(
  n: number, param: Float32Array, grad: Float32Array, sq: Float32Array, buf: Float32Array | null,
  lr: number, alpha: number, eps: number, weightDecay: number, momentum: number,
): void {
  const c = 1 - alpha;
  if (momentum > 0 && buf !== null) {
    for (let i = 0; i < n; i++) {
      const g = grad[i] + weightDecay * param[i];
      const s = Math.fround(alpha * sq[i] + c * g * g);
      sq[i] = s;
      const b = Math.fround(momentum * buf[i] + g / (Math.sqrt(s) + eps));
      buf[i] = b;
      param[i] -= lr * b;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const g = grad[i] + weightDecay * param[i];
    const s = Math.fround(alpha * sq[i] + c * g * g);
    sq[i] = s;
    param[i] -= (lr * g) / (Math.sqrt(s) + eps);
  }
}
