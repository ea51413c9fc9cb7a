// Denormal cases: native kernel time with denormal (subnormal) operands or results vs normal ones.
//
// Without flush-to-zero / denormals-are-zero every float operation touching a denormal takes a
// microcode assist (a 512^3 matmul with denormal products ran ~150x slower, exp/sigmoid/tanh
// ~20x). The native kernels run with FTZ/DAZ, so the two timings should match: the case reports
// normal/denormal time per kernel, and the `denormal` target checks the worst ratio.
'use strict';
const { measureCase, randomArray } = require('../lib/cases');

const N_ELEMENTS = 1 << 18; // same size as the activation group

/** randomArray scaled by s (float32-rounded). */
function scaled(n, seed, s) {
  const x = randomArray(n, seed);
  for (let i = 0; i < n; i++) x[i] *= s;
  return x;
}

/** Candidates: native on normal inputs, native on denormal inputs, pure TS on denormal inputs. */
function candidates(ctx, run, normal, denormal, jsSkip) {
  const b = ctx.backends.native;
  const out = [];
  if (!b) {
    const skip = `backend unavailable: ${ctx.backendErrors.native || 'not loaded'}`;
    out.push({ name: 'nativeNormal', skip }, { name: 'native', skip });
  } else {
    out.push({ name: 'nativeNormal', fn: () => run(b, normal) }, { name: 'native', fn: () => run(b, denormal) });
  }
  if (jsSkip) out.push({ name: 'js', skip: jsSkip });
  else if (ctx.backends.js) out.push({ name: 'js', fn: () => run(ctx.backends.js, denormal) });
  return out;
}

async function runDenormals(ctx) {
  const records = [];
  const size = ctx.opts.quick ? 256 : 512;
  const mnk = size * size * size;
  // A and B ~ 1e-20: every product (~1e-40) and most partial sums are denormal.
  const gemmInputs = (s) => ({ A: scaled(size * size, 11, s), B: scaled(size * size, 12, s), C: new Float32Array(size * size) });
  records.push(
    await measureCase(
      ctx,
      {
        id: `denormal-gemm-${size}`,
        group: 'denormal',
        label: `matmul ${size}³, products ~1e-40`,
        short: `matmul ${size}³, denormal products`,
        note: 'normal: A, B uniform in [-1, 1); denormal: the same scaled by 1e-20, so every product is denormal',
        display: { kind: 'rate', unit: 'GFLOP/s', work: (2 * mnk) / 1e9 },
        baseline: 'nativeNormal',
        chart: false,
      },
      candidates(ctx, (b, d) => b.gemm(false, false, size, size, size, 1, d.A, d.B, 0, d.C), gemmInputs(1), gemmInputs(1e-20),
        'pure TS accumulates in float64, where 1e-40 is a normal number (see the gemm group for its speed)'),
    ),
  );
  const n = N_ELEMENTS;
  const normal = { x: scaled(n, 21, 1e-3), out: new Float32Array(n) };
  const denormal = { x: scaled(n, 21, 1e-39), out: new Float32Array(n) };
  const kernels = {
    exp: (b, d) => b.unary('exp', n, d.x, d.out),
    sigmoid: (b, d) => b.activationForward('sigmoid', n, d.x, d.out, 0),
    tanh: (b, d) => b.activationForward('tanh', n, d.x, d.out, 0),
  };
  for (const [name, run] of Object.entries(kernels)) {
    records.push(
      await measureCase(
        ctx,
        {
          id: `denormal-${name}`,
          group: 'denormal',
          label: `${name} (${n} elements), inputs ~1e-39`,
          short: `${name}, denormal inputs`,
          note: `normal: inputs uniform in [-1e-3, 1e-3); denormal: in [-1e-39, 1e-39) (${n} float32 elements per call)`,
          display: { kind: 'rate', unit: 'Melem/s', work: n / 1e6 },
          baseline: 'nativeNormal',
          chart: false,
        },
        candidates(ctx, run, normal, denormal, null),
      ),
    );
  }
  return records;
}

module.exports = { runDenormals };
