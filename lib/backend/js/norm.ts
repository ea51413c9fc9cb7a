// TypeScript twins of the normalisation family: batchNormForward, batchNormBackward, channelAffine over [N, C, S] (float64 sums).

/**
 * Per channel c: mean and biased variance over the N*S values x[n, c, s] (two passes in float64),
 * invstd = 1 / sqrt(var + eps); out = (x - mean) * invstd * weight + bias (weight/bias null: 1/0).
 */
export function batchNormForward(
  N: number, C: number, S: number, x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
  eps: number, out: Float32Array, mean: Float32Array, variance: Float32Array, invstd: Float32Array,
): void {
  const count = N * S;
  const f = Math.fround;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * S;
      for (let j = 0; j < S; j++) s += x[o + j];
    }
    const m = s / count;
    let q = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * S;
      for (let j = 0; j < S; j++) {
        const d = x[o + j] - m;
        q += d * d;
      }
    }
    const v = f(q / count);
    const is = f(1 / Math.sqrt(f(v + eps)));
    const mf = f(m);
    mean[c] = mf;
    variance[c] = v;
    invstd[c] = is;
    const a = f((weight === null ? 1 : weight[c]) * is);
    const b = bias === null ? 0 : bias[c];
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * S;
      for (let j = 0; j < S; j++) out[o + j] = f(x[o + j] - mf) * a + b;
    }
  }
}

/**
 * Backward of batchNormForward (training) or of the fixed-statistics map (not training):
 * dweight = sum dy * xhat, dbias = sum dy per channel; dx = w * invstd * (dy - dbias/(N*S) - xhat * dweight/(N*S))
 * when training, else w * invstd * dy. dx, dweight and dbias may be null.
 */
export function batchNormBackward(
  N: number, C: number, S: number, x: Float32Array, mean: Float32Array, invstd: Float32Array, weight: Float32Array | null,
  dy: Float32Array, training: boolean, dx: Float32Array | null, dweight: Float32Array | null, dbias: Float32Array | null,
): void {
  const count = N * S;
  for (let c = 0; c < C; c++) {
    const m = mean[c];
    const is = invstd[c];
    const wi = (weight === null ? 1 : weight[c]) * is;
    let sdy = 0;
    let sdyx = 0;
    if (training || dweight !== null || dbias !== null) {
      for (let n = 0; n < N; n++) {
        const o = (n * C + c) * S;
        for (let j = 0; j < S; j++) {
          const g = dy[o + j];
          sdy += g;
          sdyx += g * (x[o + j] - m);
        }
      }
      sdyx *= is;
      if (dweight !== null) dweight[c] = sdyx;
      if (dbias !== null) dbias[c] = sdy;
    }
    if (dx === null) continue;
    const b = training ? (-wi * is * sdyx) / count : 0;
    const k = training ? (-wi * sdy) / count : 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * S;
      for (let j = 0; j < S; j++) dx[o + j] = dy[o + j] * wi + (x[o + j] - m) * b + k;
    }
  }
}

/** out[n, c, s] = x[n, c, s] * scale[c] + shift[c] (shift null: 0). */
export function channelAffine(
  N: number, C: number, S: number, x: Float32Array, scale: Float32Array, shift: Float32Array | null, out: Float32Array,
): void {
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = (n * C + c) * S;
      const a = scale[c];
      const b = shift === null ? 0 : shift[c];
      for (let j = 0; j < S; j++) out[o + j] = x[o + j] * a + b;
    }
  }
}
