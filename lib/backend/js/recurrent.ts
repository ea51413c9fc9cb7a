// TypeScript twins of the recurrent family (native/kernels/recurrent*.cc): LSTM and GRU cell gate math, one time step over B rows.

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function checkGates(kernel: string, H: number, G: number, perUnit: number): void {
  if (G !== perUnit * H) throw new Error(`${kernel}: G (${G}) must be ${perUnit} * H (H = ${H})`);
}

/** gates [B,4H] (i, f, g, o pre-activations) -> activations in place; c = f cPrev + i g; h = o tanh(c). */
export function lstmCellForward(B: number, H: number, G: number, gates: Float32Array, cPrev: Float32Array, c: Float32Array, h: Float32Array): void {
  checkGates('lstmCellForward', H, G, 4);
  for (let b = 0; b < B; b++) {
    const o0 = b * G;
    for (let j = 0; j < H; j++) {
      const k = o0 + j;
      const i = Math.fround(sigmoid(gates[k]));
      const f = Math.fround(sigmoid(gates[k + H]));
      const g = Math.fround(Math.tanh(gates[k + 2 * H]));
      const o = Math.fround(sigmoid(gates[k + 3 * H]));
      const cv = Math.fround(f * cPrev[b * H + j] + i * g);
      gates[k] = i;
      gates[k + H] = f;
      gates[k + 2 * H] = g;
      gates[k + 3 * H] = o;
      c[b * H + j] = cv;
      h[b * H + j] = o * Math.tanh(cv);
    }
  }
}

/** Gradients of one LSTM step: dGates from dh and dc (dc becomes the gradient w.r.t. cPrev). */
export function lstmCellBackward(
  B: number, H: number, G: number, gates: Float32Array, cPrev: Float32Array, c: Float32Array, dh: Float32Array, dc: Float32Array, dGates: Float32Array,
): void {
  checkGates('lstmCellBackward', H, G, 4);
  for (let b = 0; b < B; b++) {
    const o0 = b * G;
    for (let j = 0; j < H; j++) {
      const k = o0 + j;
      const s = b * H + j;
      const i = gates[k], f = gates[k + H], g = gates[k + 2 * H], o = gates[k + 3 * H];
      const tc = Math.tanh(c[s]);
      const d = dh[s];
      const dct = d * o * (1 - tc * tc) + dc[s];
      dGates[k] = dct * g * i * (1 - i);
      dGates[k + H] = dct * cPrev[s] * f * (1 - f);
      dGates[k + 2 * H] = dct * i * (1 - g * g);
      dGates[k + 3 * H] = d * tc * o * (1 - o);
      dc[s] = dct * f;
    }
  }
}

/** gi [B,3H] (r, z, n input parts) -> r, z, n in place; h = (1 - z) n + z hPrev, n = tanh(gi_n + r gh_n). */
export function gruCellForward(B: number, H: number, G: number, gi: Float32Array, gh: Float32Array, hPrev: Float32Array, h: Float32Array): void {
  checkGates('gruCellForward', H, G, 3);
  for (let b = 0; b < B; b++) {
    const o0 = b * G;
    for (let j = 0; j < H; j++) {
      const k = o0 + j;
      const r = Math.fround(sigmoid(gi[k] + gh[k]));
      const z = Math.fround(sigmoid(gi[k + H] + gh[k + H]));
      const n = Math.fround(Math.tanh(gi[k + 2 * H] + r * gh[k + 2 * H]));
      gi[k] = r;
      gi[k + H] = z;
      gi[k + 2 * H] = n;
      h[b * H + j] = n + z * (hPrev[b * H + j] - n);
    }
  }
}

/** Gradients of one GRU step w.r.t. gi, gh and (directly) hPrev, from dh. */
export function gruCellBackward(
  B: number, H: number, G: number, gates: Float32Array, gh: Float32Array, hPrev: Float32Array, dh: Float32Array,
  dGi: Float32Array, dGh: Float32Array, dhPrev: Float32Array,
): void {
  checkGates('gruCellBackward', H, G, 3);
  for (let b = 0; b < B; b++) {
    const o0 = b * G;
    for (let j = 0; j < H; j++) {
      const k = o0 + j;
      const s = b * H + j;
      const r = gates[k], z = gates[k + H], n = gates[k + 2 * H], d = dh[s];
      const dnp = d * (1 - z) * (1 - n * n);
      const dzp = d * (hPrev[s] - n) * z * (1 - z);
      const drp = dnp * gh[k + 2 * H] * r * (1 - r);
      dGi[k] = drp;
      dGi[k + H] = dzp;
      dGi[k + 2 * H] = dnp;
      dGh[k] = drp;
      dGh[k + H] = dzp;
      dGh[k + 2 * H] = dnp * r;
      dhPrev[s] = d * z;
    }
  }
}
