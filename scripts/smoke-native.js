// Smoke test of a native addon on any platform (used under qemu-aarch64 with an arm64 node by
// scripts/cross-arm64.sh): the built package (dist/) must pick the native backend (MYELIN_ADDON_PATH
// points at the binary under test) and agree with the pure-TypeScript backend on matmuls of awkward
// shapes (all transposes), softmax, GELU, and a few epochs of training on the embedded digits.
// Prints one line per check; exits 1 on the first disagreement.
'use strict';
const path = require('path');
const m = require(path.join(__dirname, '..', 'dist'));

function fail(msg) {
  process.stderr.write(`smoke: FAIL ${msg}\n`);
  process.exit(1);
}

function maxRelErr(a, b) {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

/** Runs fn on each backend (same seeds) and returns [native result, js result]. */
function both(fn) {
  m.setBackend('native');
  const native = fn();
  m.setBackend('js');
  const js = fn();
  m.setBackend('native');
  return [native, js];
}

const info = m.info();
if (info.backend !== 'native') fail(`backend is ${info.backend}: ${info.fallbackReason}`);
console.log(`smoke: ${process.platform}-${process.arch} node ${process.version}, native addon ${info.addon} (simd ${info.simd})`);

let checks = 0;
for (const [M, N, K] of [[1, 1, 1], [3, 17, 5], [17, 3, 65], [65, 33, 17], [257, 9, 31]]) {
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const [n, j] = both(() => {
        let a = m.randn(ta ? [K, M] : [M, K], { seed: M * 7 + K });
        let b = m.randn(tb ? [N, K] : [K, N], { seed: N * 11 + K });
        if (ta) a = a.transpose();
        if (tb) b = b.transpose();
        return a.matmul(b).toArray().flat(Infinity);
      });
      const err = maxRelErr(n, j);
      if (err > 1e-4) fail(`matmul ${M}x${K} @ ${K}x${N} (transA=${ta}, transB=${tb}): max relative error ${err}`);
      checks++;
    }
  }
}
const [sn, sj] = both(() => m.randn([7, 13], { seed: 3 }).softmax().toArray().flat());
if (maxRelErr(sn, sj) > 1e-5) fail('softmax');
const [gn, gj] = both(() => m.randn([129], { seed: 4 }).gelu().toArray());
if (maxRelErr(gn, gj) > 1e-5) fail('gelu');
checks += 2;
console.log(`smoke: ${checks} kernel checks agree with the pure-TypeScript backend`);

async function train() {
  const d = m.data.loadDigits({ seed: 1 });
  const run = async () => {
    const model = new m.nn.Sequential(new m.nn.Linear(64, 32), new m.nn.ReLU(), new m.nn.Linear(32, 10), { seed: 1 });
    const h = await m.fit(model, d.train, { epochs: 3, batchSize: 32, verbose: 0, seed: 1 });
    return { loss: h.loss[h.loss.length - 1], ...m.evaluate(model, d.test) };
  };
  m.setBackend('native');
  const native = await run();
  m.setBackend('js');
  const js = await run();
  if (Math.abs(native.loss - js.loss) > 1e-3 * Math.max(1, js.loss)) fail(`training loss native ${native.loss} vs js ${js.loss}`);
  if (Math.abs(native.accuracy - js.accuracy) > 0.01) fail(`test accuracy native ${native.accuracy} vs js ${js.accuracy}`);
  console.log(`smoke: 3 epochs on digits: loss ${native.loss.toFixed(5)} (js ${js.loss.toFixed(5)}), ` +
    `test accuracy ${native.accuracy.toFixed(4)} (js ${js.accuracy.toFixed(4)})`);
  console.log('smoke: ok');
}
train().catch((err) => fail(err instanceof Error ? err.stack : String(err)));
