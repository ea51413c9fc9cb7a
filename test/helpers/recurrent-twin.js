// Child process of recurrent-kernels.test.ts: the C++ LSTM/GRU cell kernels (every call in C++) against
// their TypeScript twins on awkward shapes, at the SIMD level MYELIN_SIMD selects.
//
//   [MYELIN_SIMD=avx2|scalar] node test/helpers/recurrent-twin.js <dist dir> <seed>
//
// Prints one JSON line: the SIMD level, the cases checked, and the first disagreements.
'use strict';
const { C, J, arr, compare, results } = require('./twin-child').twinChild();

// 65 x 257 crosses the kernels' threading threshold (B * G >= 65536).
for (const B of [1, 2, 3, 17, 65]) {
  for (const H of [1, 3, 8, 16, 17, 65, 257]) {
    const shape = `B=${B} H=${H}`;
    // LSTM: pre-activations up to +-6 (saturated gates included)
    {
      const G = 4 * H;
      const pre = arr(B * G, 6);
      const cPrev = arr(B * H, 2);
      const run = (K) => {
        const gates = pre.slice();
        const c = new Float32Array(B * H);
        const h = new Float32Array(B * H);
        K.lstmCellForward({ B, H, G, gates, cPrev, c, h });
        return { gates, c, h };
      };
      const fc = run(C), ft = run(J);
      compare(`lstmCellForward ${shape} gates`, fc.gates, ft.gates, 2e-6);
      compare(`lstmCellForward ${shape} c`, fc.c, ft.c, 2e-6);
      compare(`lstmCellForward ${shape} h`, fc.h, ft.h, 2e-6);
      const dh = arr(B * H);
      const dcIn = arr(B * H);
      const back = (K) => {
        const dc = dcIn.slice();
        const dGates = new Float32Array(B * G).fill(NaN);
        K.lstmCellBackward({ B, H, G, gates: ft.gates, cPrev, c: ft.c, dh, dc, dGates });
        return { dc, dGates };
      };
      const bc = back(C), bt = back(J);
      compare(`lstmCellBackward ${shape} dc`, bc.dc, bt.dc, 2e-6);
      compare(`lstmCellBackward ${shape} dGates`, bc.dGates, bt.dGates, 2e-6);
    }
    // GRU
    {
      const G = 3 * H;
      const gi0 = arr(B * G, 4);
      const gh = arr(B * G, 4);
      const hPrev = arr(B * H);
      const run = (K) => {
        const gi = gi0.slice();
        const h = new Float32Array(B * H);
        K.gruCellForward({ B, H, G, gi, gh, hPrev, h });
        return { gi, h };
      };
      const fc = run(C), ft = run(J);
      compare(`gruCellForward ${shape} gates`, fc.gi, ft.gi, 2e-6);
      compare(`gruCellForward ${shape} h`, fc.h, ft.h, 2e-6);
      const dh = arr(B * H);
      const back = (K) => {
        const dGi = new Float32Array(B * G).fill(NaN);
        const dGh = new Float32Array(B * G).fill(NaN);
        const dhPrev = new Float32Array(B * H).fill(NaN);
        K.gruCellBackward({ B, H, G, gates: ft.gi, gh, hPrev, dh, dGi, dGh, dhPrev });
        return { dGi, dGh, dhPrev };
      };
      const bc = back(C), bt = back(J);
      compare(`gruCellBackward ${shape} dGi`, bc.dGi, bt.dGi, 2e-6);
      compare(`gruCellBackward ${shape} dGh`, bc.dGh, bt.dGh, 2e-6);
      compare(`gruCellBackward ${shape} dhPrev`, bc.dhPrev, bt.dhPrev, 2e-6);
    }
  }
}
// A gate width that is not 4H / 3H is an error naming the kernel, from both backends.
for (const [name, K] of [['C++', C], ['TS', J]]) {
  let msg = '';
  try {
    K.lstmCellForward({ B: 1, H: 2, G: 6, gates: new Float32Array(6), cPrev: new Float32Array(2), c: new Float32Array(2), h: new Float32Array(2) });
  } catch (e) {
    msg = e.message;
  }
  results.checked++;
  if (!/lstmCellForward.*G \(6\) must be 4 \* H/.test(msg)) results.disagreements.push({ what: `${name} G check`, message: msg });
}
process.stdout.write(JSON.stringify({ gemmSimd: C.info().gemmSimd, checked: results.checked, disagreements: results.disagreements.slice(0, 10) }) + '\n');
