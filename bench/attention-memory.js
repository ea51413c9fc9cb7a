// Peak memory of attention (forward + backward) at growing lengths: the fused kernel (ops.scaledDotProductAttention)
// against the composed ops (bmm, maskedFill, softmax, bmm: the T x S weights materialised). Each (length, path)
// runs in a fresh child process; the figure is the child's peak RSS minus its RSS just before the attention call.
//
//   node bench/attention-memory.js [lengths, default 512,1024,2048] [--heads 4] [--head-dim 64]
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');
const os = require('os');

const DIST = path.join(__dirname, '..', 'dist');

function child(L, impl, H, D) {
  const m = require(DIST);
  const rnd = (n) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898) * 0.5; return a; };
  const mk = () => m.tensor(rnd(H * L * D), [1, H, L, D], { requiresGrad: true });
  const q = mk(), k = mk(), v = mk();
  global.gc && global.gc();
  const before = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  let y;
  if (impl === 'fused') {
    y = m.ops.scaledDotProductAttention(q, k, v, { causal: true });
  } else {
    const { bmm, swapAxes, maskedFill, causalMask } = m.ops;
    const scores = m.mul(bmm(q, swapAxes(k, -1, -2)), 1 / Math.sqrt(D));
    y = bmm(m.ops.softmax(maskedFill(scores, causalMask(L), -Infinity), -1), v);
  }
  m.sum(y).backward();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ L, impl, before, peak, extraMiB: (peak - before) / 2 ** 20, ms }) + '\n');
}

function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(Number(args[1]), args[2], Number(args[3]), Number(args[4]));
  const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
  const H = opt('--heads', 4), D = opt('--head-dim', 64);
  const lengths = (args[0] && !args[0].startsWith('--') ? args[0] : '512,1024,2048').split(',').map(Number);
  console.log(`attention memory: batch 1, ${H} heads, head dim ${D}, causal, forward + backward; ${os.cpus()[0].model}; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('length  path      peak RSS over start (MiB)  time (ms)');
  const rows = [];
  for (const L of lengths) {
    for (const impl of ['fused', 'composed']) {
      const r = spawnSync(process.execPath, ['--expose-gc', __filename, '--child', String(L), impl, String(H), String(D)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`child L=${L} ${impl} failed: ${r.stderr}`);
      const o = JSON.parse(r.stdout.trim().split('\n').pop());
      rows.push(o);
      console.log(`${String(L).padStart(6)}  ${impl.padEnd(8)}  ${o.extraMiB.toFixed(1).padStart(25)}  ${o.ms.toFixed(0).padStart(9)}`);
    }
  }
  return rows;
}

if (require.main === module) main();
module.exports = { main };
