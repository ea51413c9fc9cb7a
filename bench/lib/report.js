// Turns benchmark records into the printed tables, the targets verdict and the chart rows.
'use strict';
const { formatTable, fmtNum, fmtPct } = require('./table');

const DISPLAY_NAME = { native: 'myelin native', js: 'myelin pure TS', naive: 'naive JS loop', napi: 'myelin native, N-API call', nativeNormal: 'myelin native, normal inputs' };
const GROUP_TITLE = {
  gemm: 'GEMM C = A·B (GFLOP/s; higher is better)',
  activation: 'Activation throughput (million elements/s; higher is better)',
  training: 'Training (samples/s higher is better; µs/step lower is better)',
  inference: 'Inference (µs lower is better; samples/s higher is better)',
  overhead: 'Per-call overhead (ns/call; lower is better)',
  denormal: 'Denormal operands (native with flush-to-zero; higher is better)',
  serving: 'Serving (requests/s higher is better; latency and event-loop delay lower is better)',
  lowp: 'Low-precision inference (native backend; samples/s, higher is better)',
  distributed: 'Distributed training over Gloo (processes on this machine; see bench/cases/distributed.js)',
};

const SERVING_NAME = { predict: 'predict (synchronous)', predictAsync: 'predictAsync, batching off', batched: 'predictAsync, batched (default)' };

/** The serving group: one row per server mode (req/s, p50, p99, vs predict), then the event-loop delay rows. */
function servingTable(recs) {
  const ms = (s) => (s ? `${fmtNum(s.median)} ${fmtPct(s.relSpread)}` : '');
  const rows = [];
  for (const r of recs) {
    for (const [name, c] of Object.entries(r.candidates)) {
      const who = (r.modeNames && r.modeNames[name]) || SERVING_NAME[name] || name;
      if (c.status !== 'ok') {
        rows.push([r.short || r.label, who, c.status, '', '', '']);
        continue;
      }
      if (r.id === 'serving-http') {
        rows.push([r.short || r.label, who, `${fmtNum(c.value.median)} ${fmtPct(c.value.relSpread)} req/s`, ms(c.p50), ms(c.p99), name === r.baseline ? '' : ratio(r, name, r.baseline)]);
      } else {
        const u = c.eventLoopUtilization ? `; loop busy ${(c.eventLoopUtilization.median * 100).toFixed(0)}%` : '';
        rows.push([r.short || r.label, who, '', '', `${ms(c.value)}${u}`, '']);
      }
    }
  }
  const notes = [...new Set(recs.map((r) => `  ${r.label}: ${r.note || ''}`))];
  return `${GROUP_TITLE.serving}\n${formatTable(['case', 'mode', 'throughput', 'p50 latency ms', 'p99 ms (event-loop delay for the job)', 'req/s vs predict'], rows)}\n${notes.join('\n')}`;
}

function cell(rec, name) {
  const c = rec.candidates[name];
  if (!c) return '';
  if (c.status === 'skipped') return 'skipped';
  if (c.status !== 'ok') return 'error';
  return `${fmtNum(c.value.median)} ${fmtPct(c.value.relSpread)}`;
}

function ratio(rec, fast, slow) {
  const a = rec.candidates[fast];
  const b = rec.candidates[slow];
  if (!a || !b || a.status !== 'ok' || b.status !== 'ok') return '-';
  const r = b.time.median / a.time.median;
  return `${r >= 100 ? r.toFixed(0) : r.toPrecision(3)}×`;
}

/** One table per group of cases; values are medians with ± half the interquartile range. */
/** The accuracy group: each trainer's test accuracy and training time, and myelin's gap to PyTorch. */
function cnnAccuracyTable(recs) {
  const acc = (c) => (!c ? 'not run' : c.status === 'ok' ? `${c.accuracy.toFixed(4)} (${c.seconds.toFixed(0)} s)` : `error: ${c.reason}`);
  const rows = recs.map((r) => [r.label, acc(r.candidates.native), acc(r.candidates.pytorch), r.accuracyGap == null ? 'n/a' : `${(r.accuracyGap * 100).toFixed(2)} points`]);
  const notes = recs.map((r) => `  ${r.label}: ${r.note || ''}`);
  return `CNN accuracy (test accuracy, training time)\n${formatTable(['case', 'myelin native', 'PyTorch', 'myelin - PyTorch'], rows)}\n${notes.join('\n')}`;
}

/** A paired predict/predictAsync record (the predictAsync regression guard). */
function isPairedAsync(r) {
  return typeof r.id === 'string' && r.id.startsWith('infer-async-paired-');
}

/** One line of the guard: the paired ratio (or extra latency) with its spread, flagged past its limit. */
function pairedAsyncLine(r) {
  const p = r.paired;
  if (!p) {
    const why = Object.entries(r.candidates).filter(([, c]) => c.status !== 'ok').map(([n, c]) => `${n} ${c.status}: ${c.reason}`).join('; ');
    return `  ${r.label}: not measured (${why || 'no pairs'})`;
  }
  if (p.kind === 'extra-latency') {
    return `  ${r.label}: ${p.median >= 0 ? '+' : ''}${p.median.toFixed(1)} µs ±${p.halfIqr.toFixed(1)} over ${p.n} pairs (limit +${p.limit} µs)${p.flagged ? '  ABOVE THE LIMIT' : ''}`;
  }
  return `  ${r.label}: ${p.median.toFixed(3)}× ±${(p.halfIqr * 100).toFixed(1)}% over ${p.n} pairs, range ${p.min.toFixed(2)}-${p.max.toFixed(2)} (limit ${p.limit}×)${p.flagged ? '  BELOW THE LIMIT' : ''}`;
}

/** The bf16 mixed-precision training steps: fp32 ('native') and autocast('bf16') ('bf16') of one run, and their ratio. */
function mixedBf16Table(recs) {
  const rows = recs.map((r) => [r.label, r.display.unit, cell(r, 'native'), cell(r, 'bf16'), ratio(r, 'bf16', 'native')]);
  return `bf16 mixed-precision training (native backend)\n${formatTable(['case', 'unit', 'fp32', 'bf16 (autocast)', 'bf16 vs fp32'], rows)}\n  ${recs[0].note}`;
}

function casesTables(records) {
  const groups = [];
  for (const r of records) if (!groups.includes(r.group)) groups.push(r.group);
  const out = [];
  for (const g of groups) {
    let recs = records.filter((r) => r.group === g);
    if (g === 'serving') {
      out.push(servingTable(recs));
      continue;
    }
    if (g === 'distributed') {
      // Multi-process cases carry their own tables (bench/cases/distributed.js).
      out.push(`${GROUP_TITLE[g]}\n${recs.map((r) => `${r.label}\n${r.table}`).join('\n')}`);
      continue;
    }
    if (g === 'lowp') {
      const names = ['native', 'int8', 'int8static', 'bf16'];
      const rows = recs.map((r) => [r.label, ...names.map((n) => cell(r, n)), ...names.slice(1).map((n) => ratio(r, n, 'native'))]);
      const notes = recs.map((r) => `  ${r.label}: ${r.note || ''}`);
      out.push(`${GROUP_TITLE.lowp}\n${formatTable(['case', 'float32', 'int8', 'int8 calibrated', 'bf16', 'int8 vs f32', 'int8 cal. vs f32', 'bf16 vs f32'], rows)}\n${notes.join('\n')}`);
      continue;
    }
    if (g === 'threads') {
      out.push(require('../cases/threads').threadsTable(recs));
      continue;
    }
    if (g === 'cnn-accuracy') {
      out.push(cnnAccuracyTable(recs));
      continue;
    }
    if (g === 'denormal') {
      const headers = ['case', 'unit', 'native, normal inputs', 'native, denormal', 'pure TS, denormal', 'denormal / normal time'];
      const rows = recs.map((r) => [r.label, r.display.unit, cell(r, 'nativeNormal'), cell(r, 'native'), cell(r, 'js'), ratio(r, 'nativeNormal', 'native')]);
      out.push(`${GROUP_TITLE[g]}\n${formatTable(headers, rows)}`);
      continue;
    }
    // The predictAsync guard (bench/cases/inference.js): its own lines after the group's table.
    const paired = recs.filter(isPairedAsync);
    if (paired.length === recs.length) {
      out.push(`${GROUP_TITLE[g] || g}\n${paired.map(pairedAsyncLine).join('\n')}`);
      continue;
    }
    recs = recs.filter((r) => !isPairedAsync(r));
    // bf16 mixed-precision training steps (bench/cases/training.js): their own table after the group's.
    const mixed = recs.filter((r) => r.candidates.bf16 && r.id.startsWith('train-step-bf16'));
    recs = recs.filter((r) => !mixed.includes(r));
    if (recs.length === 0) {
      out.push(mixedBf16Table(mixed));
      continue;
    }
    const hasNaive = recs.some((r) => r.candidates.naive);
    const hasNapi = recs.some((r) => r.candidates.napi);
    const headers = ['case', 'unit', 'myelin native', 'myelin pure TS'];
    if (hasNapi) headers.push('N-API call');
    if (hasNaive) headers.push('naive JS loop');
    headers.push('native vs TS');
    if (hasNaive) headers.push('native vs naive', 'TS vs naive');
    const rows = recs.map((r) => {
      const row = [r.label, r.display.unit, cell(r, 'native'), cell(r, 'js')];
      if (hasNapi) row.push(cell(r, 'napi'));
      if (hasNaive) row.push(cell(r, 'naive'));
      row.push(ratio(r, 'native', 'js'));
      if (hasNaive) row.push(ratio(r, 'native', 'naive'), ratio(r, 'js', 'naive'));
      return row;
    });
    out.push(`${GROUP_TITLE[g] || g}\n${formatTable(headers, rows)}`);
    const notes = recs.flatMap((r) =>
      Object.entries(r.candidates)
        .filter(([, c]) => c.status !== 'ok')
        .map(([n, c]) => `  ${r.label}: ${DISPLAY_NAME[n] || n} ${c.status}: ${c.reason}`),
    );
    const caseNotes = [...new Set(recs.filter((r) => r.note).map((r) => r.note))].map((n) => `  ${n}`);
    for (const r of recs) {
      if (!r.epochSeconds) continue;
      const parts = Object.entries(r.epochSeconds).map(([n, s]) => `${DISPLAY_NAME[n] || n} ${s.toFixed(1)} s`);
      caseNotes.push(`  one full epoch of ${r.fullEpochSamples} samples at the median rate: ${parts.join(', ')}`);
    }
    if (notes.length || caseNotes.length) out.push([...caseNotes, ...notes].join('\n'));
    if (paired.length) out.push(paired.map(pairedAsyncLine).join('\n'));
    if (mixed.length) out.push(mixedBf16Table(mixed));
  }
  return out.join('\n\n');
}

function peersTable(peers) {
  const metrics = Object.keys(peers.metrics);
  const headers = ['reference MLP task', ...metrics.map((m) => peers.metrics[m].label)];
  const rows = Object.entries(peers.table).map(([who, byMetric]) => [
    who,
    ...metrics.map((m) => (byMetric[m] ? `${fmtNum(byMetric[m].value.median)} ${fmtPct(byMetric[m].value.relSpread)}${byMetric[m].config ? ` [${byMetric[m].config}]` : ''}` : '-')),
  ]);
  const lines = [formatTable(headers, rows)];
  for (const [who, c] of Object.entries(peers.configs || {})) {
    const t = c.threads ? ` (threads ${Object.entries(c.threads).map(([k, v]) => `${k}=${v}`).join(', ')})` : '';
    lines.push(`  ${who}: the fastest configuration per column is kept${t}; tried:`);
    for (const [metric, byConfig] of Object.entries(c.medianByMetric || {})) {
      lines.push(`    ${peers.metrics[metric] ? peers.metrics[metric].label : metric}: ${Object.entries(byConfig).map(([k, v]) => `${k} ${fmtNum(v)}`).join(', ')}`);
    }
  }
  for (const [who, reason] of Object.entries({ ...peers.unavailable, ...peers.errors })) lines.push(`  ${who}: ${reason}`);
  if (peers.onnxSource) lines.push(`  ONNX model for onnxruntime-node written by ${peers.onnxSource}`);
  lines.push(`  ${peers.rounds} rounds x ${peers.repsPerRound} reps per round, rounds interleave myelin and each peer process`);
  return lines.join('\n');
}

const med = (x) => (x ? x.value.median : null);

/** The README targets, each { id, text, measured, met } (met null when something was not measured). */
function evaluateTargets(records, peers) {
  const byId = Object.fromEntries(records.map((r) => [r.id, r]));
  const t = [];
  const P = (peers && peers.table) || {};
  const my = P['myelin native'] || {};
  const ratioTarget = (id, text, num, den, min, what) => {
    if (num == null || den == null) t.push({ id, text, measured: `not measured (${what})`, met: null });
    else {
      const r = num / den;
      t.push({ id, text, value: r, measured: `${r.toFixed(2)}× (${fmtNum(num)} vs ${fmtNum(den)})`, met: r >= min });
    }
  };
  ratioTarget('train-vs-pytorch', 'training >= 2x PyTorch samples/s (its best OPENBLAS_CORETYPE)', med(my.train128), med(P.pytorch && P.pytorch.train128), 2, 'needs --peers and torch');
  ratioTarget('train-vs-tfjs', 'training >= 100x tfjs cpu samples/s', med(my.train128), med(P['tfjs-cpu'] && P['tfjs-cpu'].train128), 100, 'needs --peers');
  const inferPeers = Object.entries(P)
    .filter(([who]) => who === 'pytorch' || who.startsWith('onnxruntime-node'))
    .map(([who, m]) => [who, med(m.infer1024)])
    .filter(([, v]) => v != null)
    .sort((x, y) => y[1] - x[1]);
  ratioTarget(
    'infer-vs-best',
    `inference batch 1024 >= 1.3x the faster of PyTorch and onnxruntime-node${inferPeers.length ? ` (${inferPeers[0][0]})` : ''}`,
    med(my.infer1024),
    inferPeers.length ? inferPeers[0][1] : null,
    1.3,
    'needs --peers',
  );
  for (const batch of [128, 512]) {
    const r = byId[`train-step-bf16-${batch}`];
    const ok = r && ['native', 'bf16'].every((n) => r.candidates[n] && r.candidates[n].status === 'ok');
    ratioTarget(`train-bf16-${batch}`, `bf16 mixed-precision training step >= 1.5x fp32 (batch ${batch}, ${r && r.paths ? r.paths.mixedBf16 : 'n/a'})`,
      ok ? med(r.candidates.bf16) : null, ok ? med(r.candidates.native) : null, 1.5, 'needs --only training and the native backend');
  }
  const lat = med(my.infer1) != null ? med(my.infer1) : byId['infer-1'] && byId['infer-1'].candidates.native && med(byId['infer-1'].candidates.native);
  t.push(lat == null ? { id: 'latency', text: 'batch-1 latency <= 30 µs', measured: 'not measured', met: null } : { id: 'latency', text: 'batch-1 latency <= 30 µs', value: lat, measured: `${lat.toFixed(1)} µs`, met: lat <= 30 });
  const ovRec = byId['overhead-add'];
  const ovNapi = ovRec && ovRec.candidates.napi && ovRec.candidates.napi.status === 'ok';
  const ov = ovRec && (ovNapi ? ovRec.candidates.napi : ovRec.candidates.native);
  t.push(
    ov && ov.status === 'ok'
      ? { id: 'napi-overhead', text: 'N-API overhead per call < 1 µs', value: ov.value.median, measured: `${ov.value.median.toFixed(0)} ns per add(n=1) call${ovNapi ? ' through the addon' : ''}`, met: ov.value.median < 1000 }
      : { id: 'napi-overhead', text: 'N-API overhead per call < 1 µs', measured: 'not measured', met: null },
  );
  const xr = byId['xor-step'];
  const xs = xr && xr.speedup && xr.speedup.native;
  t.push(
    xs != null
      ? { id: 'xor', text: 'XOR 2-8-1 step: native not slower than pure TS', value: xs, measured: `native ${xr.candidates.native.value.median.toFixed(1)} µs vs pure TS ${xr.candidates.js.value.median.toFixed(1)} µs (${xs.toFixed(2)}×)`, met: xs >= 1 }
      : { id: 'xor', text: 'XOR 2-8-1 step: native not slower than pure TS', measured: 'not measured', met: null },
  );
  const denormal = records.filter((r) => r.group === 'denormal' && r.speedup && r.speedup.native != null);
  const worst = denormal.reduce((w, r) => (w === null || 1 / r.speedup.native > 1 / w.speedup.native ? r : w), null);
  t.push(
    worst
      ? { id: 'denormal', text: 'denormal operands cost < 1.5x normal ones (native)', value: 1 / worst.speedup.native, measured: `worst ${(1 / worst.speedup.native).toFixed(2)}× (${worst.short || worst.label})`, met: 1 / worst.speedup.native < 1.5 }
      : { id: 'denormal', text: 'denormal operands cost < 1.5x normal ones (native)', measured: 'not measured', met: null },
  );
  const resnet = byId['fashion-resnet-accuracy'];
  const rn = resnet && resnet.candidates.native;
  const rOk = rn && rn.status === 'ok' && !/quick/.test(resnet.label);
  t.push(rOk
    ? { id: 'resnet-accuracy', text: 'Fashion-MNIST small ResNet + BN + augmentation: test accuracy >= 0.93', value: rn.accuracy, measured: rn.accuracy.toFixed(4), met: rn.accuracy >= 0.93 }
    : { id: 'resnet-accuracy', text: 'Fashion-MNIST small ResNet + BN + augmentation: test accuracy >= 0.93', measured: 'not measured (needs a full --only cnn-accuracy run)', met: null });
  t.push(rOk && resnet.accuracyGap != null
    ? { id: 'resnet-vs-pytorch', text: 'small ResNet accuracy within 0.5 points of PyTorch (same net and settings)', value: resnet.accuracyGap, measured: `${(resnet.accuracyGap * 100).toFixed(2)} points (${rn.accuracy.toFixed(4)} vs ${resnet.candidates.pytorch.accuracy.toFixed(4)})`, met: Math.abs(resnet.accuracyGap) <= 0.005 || resnet.accuracyGap > 0 }
    : { id: 'resnet-vs-pytorch', text: 'small ResNet accuracy within 0.5 points of PyTorch (same net and settings)', measured: 'not measured (needs a full --only cnn-accuracy --peers run)', met: null });
  const http = byId['serving-http'];
  const sp = http && http.candidates.predict;
  const sb = http && http.candidates.batched;
  const servingText = 'serving: batched predictAsync beats predict on req/s with p99 no worse (HTTP, 1-row requests)';
  t.push(
    sp && sb && sp.status === 'ok' && sb.status === 'ok'
      ? {
        id: 'serving', text: servingText, value: sb.value.median / sp.value.median,
        measured: `${fmtNum(sb.value.median)} vs ${fmtNum(sp.value.median)} req/s (${(sb.value.median / sp.value.median).toFixed(2)}×), p99 ${fmtNum(sb.p99.median)} vs ${fmtNum(sp.p99.median)} ms`,
        met: sb.value.median > sp.value.median && sb.p99.median <= sp.p99.median,
      }
      : { id: 'serving', text: servingText, measured: 'not measured', met: null },
  );
  // Batch-1 latency against the faster onnxruntime-node configuration; predictAsync against predict.
  const ortLat = Object.entries(P)
    .filter(([who]) => who.startsWith('onnxruntime-node'))
    .map(([who, m]) => [who, med(m.infer1)])
    .filter(([, v]) => v != null)
    .sort((x, y) => x[1] - y[1]);
  const latText = `batch-1 latency <= 0.7x onnxruntime-node's${ortLat.length ? ` (${ortLat[0][0]})` : ''}`;
  const myLat = med(my.infer1);
  t.push(myLat == null || !ortLat.length
    ? { id: 'latency-vs-ort', text: latText, measured: 'not measured (needs --peers)', met: null }
    : { id: 'latency-vs-ort', text: latText, value: myLat / ortLat[0][1], measured: `${(myLat / ortLat[0][1]).toFixed(2)}× (${myLat.toFixed(1)} vs ${ortLat[0][1].toFixed(1)} µs)`, met: myLat / ortLat[0][1] <= 0.7 });
  // predictAsync against predict: from the paired blocks of the inference group when measured (same model, adjacent
  // blocks), else from the peers table.
  const asyncRow = P['myelin native (predictAsync)'] || {};
  const pairedTput = byId['infer-async-paired-1024'] && byId['infer-async-paired-1024'].paired;
  const pairedLat = byId['infer-async-paired-1'] && byId['infer-async-paired-1'].paired;
  if (pairedTput) {
    t.push({ id: 'async-throughput', text: 'predictAsync at batch 1024 within 10% of predict (>= 0.9x)', value: pairedTput.median, measured: `${pairedTput.median.toFixed(2)}× ±${(pairedTput.halfIqr * 100).toFixed(1)}% (${pairedTput.n} paired blocks)`, met: pairedTput.median >= 0.9 });
  } else ratioTarget('async-throughput', 'predictAsync at batch 1024 within 10% of predict (>= 0.9x)', med(asyncRow.infer1024), med(my.infer1024), 0.9, 'needs --peers or --only inference');
  const asyncLat = med(asyncRow.infer1);
  if (pairedLat) {
    t.push({ id: 'async-latency', text: 'predictAsync batch-1 latency within 15 µs of predict', value: pairedLat.median, measured: `${pairedLat.median >= 0 ? '+' : ''}${pairedLat.median.toFixed(1)} µs ±${pairedLat.halfIqr.toFixed(1)} (${pairedLat.n} paired blocks)`, met: pairedLat.median <= 15 });
  } else t.push(asyncLat == null || myLat == null
    ? { id: 'async-latency', text: 'predictAsync batch-1 latency within 15 µs of predict', measured: 'not measured (needs --peers)', met: null }
    : { id: 'async-latency', text: 'predictAsync batch-1 latency within 15 µs of predict', value: asyncLat - myLat, measured: `+${(asyncLat - myLat).toFixed(1)} µs (${asyncLat.toFixed(1)} vs ${myLat.toFixed(1)} µs)`, met: asyncLat - myLat <= 15 });
  return t;
}

function targetsTable(targets) {
  return formatTable(
    ['target', 'measured', 'met'],
    targets.map((x) => [x.text, x.measured, x.met === null ? 'n/a' : x.met ? 'yes' : 'NO']),
  );
}

/** Chart rows: every case's speed-ups over its pure-JS baseline, and the peers over tfjs-cpu. */
function chartRows(records, peers) {
  const rows = [];
  for (const r of records) {
    if (r.chart === false) continue;
    const bars = Object.entries(r.speedup || {}).map(([n, v]) => ({ series: DISPLAY_NAME[n] || n, value: v }));
    if (bars.length) rows.push({ label: `${r.short || r.label} (vs ${(r.speedupBaseline || r.baseline) === 'naive' ? 'naive JS' : 'pure TS'})`, bars });
  }
  if (peers) {
    for (const [metric, m] of Object.entries(peers.metrics)) {
      const base = peers.table['tfjs-cpu'] && peers.table['tfjs-cpu'][metric];
      if (!base) continue;
      const bars = Object.entries(peers.table)
        .filter(([who, byMetric]) => who !== 'tfjs-cpu' && byMetric[metric])
        .map(([who, byMetric]) => ({ series: who, value: base.time.median / byMetric[metric].time.median }));
      if (bars.length) rows.push({ label: `${m.short} (vs tfjs-cpu)`, bars });
    }
  }
  return rows;
}

/** The CPU as charts name it: model name and, on x86, family and model numbers ('AMD EPYC (family 25 model 17)'). */
function cpuLabel(machine) {
  const fm = machine.cpuFamilyModel;
  return `${machine.cpu}${fm ? ` (family ${fm.family} model ${fm.model})` : ''}`;
}

/** The speed-up chart (SVG text) of a benchmark result as written to bench/results/*.json. */
function resultChart(result) {
  const { speedupChart } = require('./svg');
  const m = result.machine;
  return speedupChart(chartRows(result.cases, result.peers), {
    title: 'myelin: speed-up over pure JS (log scale)',
    cpu: cpuLabel(m),
    subtitle: `${m.cores} cores, node ${m.node}, ${result.started.slice(0, 10)}; medians of ${result.settings.reps} interleaved reps; load avg ${m.loadAvgStart[0]}→${m.loadAvgEnd[0]}${m.niceness ? `, nice ${m.niceness}` : ''}`,
  });
}

module.exports = { casesTables, peersTable, evaluateTargets, targetsTable, chartRows, cpuLabel, resultChart, DISPLAY_NAME };
