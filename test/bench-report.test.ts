// Tests of the benchmark report: target verdicts from measured records, chart rows, tables.
import { describe, it, expect } from 'vitest';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { evaluateTargets, chartRows, casesTables, peersTable } = require('../bench/lib/report.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { summarize, rateFromTime, pairedRatio } = require('../bench/lib/stats.js');

type Cand = { status: string; time?: unknown; value?: unknown; reason?: string };
function ok(seconds: number[], display: { kind: string; work?: number; scale?: number }): Cand {
  const time = summarize(seconds);
  const value = display.kind === 'rate' ? rateFromTime(time, display.work) : { median: time.median * (display.scale as number), relSpread: time.relSpread };
  return { status: 'ok', time, value };
}
function record(id: string, group: string, display: { kind: string; unit: string; work?: number; scale?: number }, baseline: string, cands: Record<string, Cand>) {
  const base = cands[baseline] as { time: { median: number } };
  const speedup: Record<string, number> = {};
  for (const [n, c] of Object.entries(cands)) if (n !== baseline && c.status === 'ok') speedup[n] = base.time.median / (c.time as { median: number }).median;
  return { id, group, label: id, display, baseline, candidates: cands, speedup };
}
const peerEntry = (metric: string, seconds: number[]) => {
  const work: Record<string, number> = { train128: 128, infer1024: 1024 };
  const time = summarize(seconds);
  return { [metric]: { time, value: metric === 'infer1' ? { median: time.median * 1e6 } : rateFromTime(time, work[metric]) } };
};

describe('bench targets', () => {
  const us = { kind: 'time', unit: 'µs/step', scale: 1e6 };
  const ns = { kind: 'time', unit: 'ns/call', scale: 1e9 };
  const records = [
    record('xor-step', 'training', us, 'js', { native: ok([10e-6, 11e-6, 12e-6], us), js: ok([20e-6, 21e-6, 22e-6], us) }),
    record('overhead-add', 'overhead', ns, 'js', { native: ok([1.2e-6, 1.3e-6, 1.4e-6], ns), js: ok([1e-8, 1e-8, 1e-8], ns) }),
  ];
  const peers = {
    metrics: {
      train128: { label: 'train', short: 'train', kind: 'rate', work: 128 },
      infer1024: { label: 'infer', short: 'infer', kind: 'rate', work: 1024 },
      infer1: { label: 'lat', short: 'lat', kind: 'time', scale: 1e6 },
    },
    table: {
      'myelin native': { ...peerEntry('train128', [0.01]), ...peerEntry('infer1024', [0.004]), ...peerEntry('infer1', [25e-6]) },
      pytorch: { ...peerEntry('train128', [0.02]), ...peerEntry('infer1024', [0.008]) },
      'myelin native (predictAsync)': { ...peerEntry('infer1024', [0.0043]), ...peerEntry('infer1', [45e-6]) },
      'onnxruntime-node (1 thread)': { ...peerEntry('infer1024', [0.0045]), ...peerEntry('infer1', [40e-6]) },
      'tfjs-cpu': { ...peerEntry('train128', [0.5]) },
    },
    errors: {},
    unavailable: { 'tfjs-wasm': 'not installed' },
    rounds: 1,
    repsPerRound: 1,
  };

  it('computes every ratio from medians and compares with the thresholds', () => {
    const t = evaluateTargets(records, peers);
    const by = Object.fromEntries(t.map((x: { id: string }) => [x.id, x]));
    expect(by['train-vs-pytorch'].value).toBeCloseTo(2, 10);
    expect(by['train-vs-pytorch'].met).toBe(true);
    expect(by['train-vs-tfjs'].value).toBeCloseTo(50, 10);
    expect(by['train-vs-tfjs'].met).toBe(false);
    // The faster inference peer is onnxruntime (0.0045 s) not pytorch (0.008 s): 0.0045 / 0.004 = 1.125 < 1.3.
    expect(by['infer-vs-best'].value).toBeCloseTo(1.125, 10);
    expect(by['infer-vs-best'].text).toContain('onnxruntime-node (1 thread)');
    expect(by['infer-vs-best'].met).toBe(false);
    expect(by.latency.value).toBeCloseTo(25, 6);
    expect(by.latency.met).toBe(true);
    // 25 / 40 = 0.625 <= 0.7; predictAsync 0.004 / 0.0043 = 0.93 >= 0.9 of predict; 45 - 25 = 20 µs > 15.
    expect(by['latency-vs-ort'].value).toBeCloseTo(0.625, 10);
    expect(by['latency-vs-ort'].met).toBe(true);
    expect(by['async-throughput'].value).toBeCloseTo(0.004 / 0.0043, 10);
    expect(by['async-throughput'].met).toBe(true);
    expect(by['async-latency'].value).toBeCloseTo(20, 6);
    expect(by['async-latency'].met).toBe(false);
    expect(by['napi-overhead'].value).toBeCloseTo(1300, 6);
    expect(by['napi-overhead'].met).toBe(false);
    expect(by.xor.value).toBeCloseTo(21 / 11, 10);
    expect(by.xor.met).toBe(true);
  });

  it('prefers the forced N-API call over the default native backend for the overhead target', () => {
    const withNapi = [record('overhead-add', 'overhead', ns, 'js', {
      native: ok([1e-8, 1e-8], ns), js: ok([1e-8, 1e-8], ns), napi: ok([2e-7, 2.2e-7], ns),
    })];
    const t = evaluateTargets(withNapi, null).find((x: { id: string }) => x.id === 'napi-overhead');
    expect(t.value).toBeCloseTo(210, 6);
    expect(t.measured).toContain('through the addon');
    expect(t.met).toBe(true);
  });

  it('marks peer targets n/a without peers', () => {
    const t = evaluateTargets(records, null);
    expect(t.filter((x: { met: boolean | null }) => x.met === null).map((x: { id: string }) => x.id)).toEqual(['train-vs-pytorch', 'train-vs-tfjs', 'infer-vs-best', 'train-bf16-128', 'train-bf16-512', 'latency', 'denormal', 'resnet-accuracy', 'resnet-vs-pytorch', 'serving', 'latency-vs-ort', 'async-throughput', 'async-latency']);
  });

  it('cnn-accuracy: the ResNet targets (>= 0.93; within 0.5 points of PyTorch) from a full run, never from --quick; its own table', () => {
    const rec = (label: string, mine: number, torch: number | null) => ({
      id: 'fashion-resnet-accuracy', group: 'cnn-accuracy', chart: false, label, display: { kind: 'accuracy', unit: 'test accuracy' },
      candidates: { native: { status: 'ok', accuracy: mine, seconds: 3570 }, ...(torch === null ? {} : { pytorch: { status: 'ok', accuracy: torch, seconds: 3811 } }) },
      ...(torch === null ? {} : { accuracyGap: mine - torch }),
    });
    const byId = (t: { id: string }[]) => Object.fromEntries(t.map((x) => [x.id, x])) as Record<string, { met: boolean | null; measured: string }>;
    let t = byId(evaluateTargets([rec('full data', 0.9001, 0.9029)], null));
    expect(t['resnet-accuracy'].met).toBe(false);
    expect(t['resnet-vs-pytorch'].met).toBe(true);
    expect(t['resnet-vs-pytorch'].measured).toBe('-0.28 points (0.9001 vs 0.9029)');
    t = byId(evaluateTargets([rec('full data', 0.935, 0.945)], null));
    expect(t['resnet-accuracy'].met).toBe(true);
    expect(t['resnet-vs-pytorch'].met).toBe(false);
    t = byId(evaluateTargets([rec('2,000 images, 1 epoch (quick)', 0.95, 0.95)], null));
    expect(t['resnet-accuracy'].met).toBe(null);
    expect(t['resnet-vs-pytorch'].met).toBe(null);
    expect(casesTables([rec('full data', 0.9001, 0.9029)])).toMatch(/CNN accuracy[\s\S]*full data +0\.9001 \(3570 s\) +0\.9029 \(3811 s\) +-0\.28 points/);
  });

  it('predictAsync guard: paired blocks give the ratio and its spread, flag below 0.9 and above +15 µs, and take over the targets', () => {
    const rate = { kind: 'rate', unit: 'samples/s', work: 1024 };
    const us = { kind: 'time', unit: 'µs', scale: 1e6 };
    // Pairs (predict, predictAsync) in seconds per call: per-pair ratios 0.8, 0.9, 1.0 at batch 1024 (median 0.9, IQR 0.1).
    const tput = (ratios: number[]) => ({
      ...record('infer-async-paired-1024', 'inference', rate, 'predict', {
        predict: ok(ratios.map(() => 0.002), rate), predictAsync: ok(ratios.map((r) => 0.002 / r), rate),
      }),
      chart: false,
      paired: (() => {
        const r = pairedRatio(ratios.map((q) => 0.002 / q), ratios.map(() => 0.002));
        return { kind: 'throughput-ratio', median: r.median, halfIqr: r.halfIqr, min: r.min, max: r.max, n: r.n, limit: 0.9, flagged: r.median < 0.9 };
      })(),
    });
    const r = pairedRatio([0.002 / 0.8, 0.002 / 0.9, 0.002 / 1.0], [0.002, 0.002, 0.002]);
    expect(r.median).toBeCloseTo(0.9, 12);
    expect(r.halfIqr).toBeCloseTo(0.05, 12);
    expect(() => pairedRatio([1, 2], [1])).toThrow(/same length/);
    const lat = (extraUs: number) => ({
      ...record('infer-async-paired-1', 'inference', us, 'predict', { predict: ok([10e-6, 10e-6], us), predictAsync: ok([(10 + extraUs) * 1e-6, (10 + extraUs) * 1e-6], us) }),
      chart: false,
      paired: { kind: 'extra-latency', unit: 'µs', median: extraUs, halfIqr: 0, min: extraUs, max: extraUs, n: 2, limit: 15, flagged: extraUs > 15 },
    });
    const by = (recs: unknown[]) => Object.fromEntries(evaluateTargets(recs, null).map((x: { id: string }) => [x.id, x])) as Record<string, { met: boolean | null; value: number; measured: string }>;
    let t = by([tput([0.85, 0.88, 0.95]), lat(4.5)]);
    expect(t['async-throughput'].met).toBe(false);
    expect(t['async-throughput'].value).toBeCloseTo(0.88, 12);
    expect(t['async-latency'].met).toBe(true);
    expect(t['async-latency'].measured).toContain('+4.5 µs');
    t = by([tput([0.92, 0.95, 0.97]), lat(20)]);
    expect(t['async-throughput'].met).toBe(true);
    expect(t['async-latency'].met).toBe(false);
    // The paired record wins over the peers table (which here would say 0.004 / 0.0043 = 0.93).
    expect(evaluateTargets([tput([0.8, 0.8, 0.8])], peers).find((x: { id: string }) => x.id === 'async-throughput').value).toBeCloseTo(0.8, 12);
    const text = casesTables([tput([0.85, 0.88, 0.95]), lat(20)]);
    expect(text).toContain('infer-async-paired-1024: 0.880×');
    expect(text).toMatch(/0\.880× ±[0-9.]+% over 3 pairs.*BELOW THE LIMIT/);
    expect(text).toMatch(/\+20\.0 µs .*ABOVE THE LIMIT/);
    expect(chartRows([tput([0.9, 0.9, 0.9])], null)).toEqual([]);
  });

  it('serving target: batched predictAsync beats predict on req/s with a p99 no worse; its own table', () => {
    const rps = { kind: 'rate', unit: 'req/s', work: 1 };
    const mode = (perRequest: number[], p99: number[]) => ({ ...ok(perRequest, rps), p50: summarize(p99.map((v) => v / 2)), p99: summarize(p99) });
    const http = (batchedRate: number, batchedP99: number) => ({
      ...record('serving-http', 'serving', rps, 'predict', {
        predict: mode([1 / 10000, 1 / 10000], [20, 20]),
        predictAsync: mode([1 / 9000, 1 / 9000], [22, 22]),
        batched: mode([1 / batchedRate, 1 / batchedRate], [batchedP99, batchedP99]),
      }),
      short: 'HTTP 1-row requests', chart: false,
    });
    const find = (recs: unknown[]) => evaluateTargets(recs, null).find((x: { id: string }) => x.id === 'serving');
    const met = find([http(15000, 12)]);
    expect(met.met).toBe(true);
    expect(met.value).toBeCloseTo(1.5, 10);
    expect(met.measured).toBe('15.0k vs 10.0k req/s (1.50×), p99 12.0 vs 20.0 ms');
    expect(find([http(15000, 21)]).met).toBe(false); // faster but a worse p99
    expect(find([http(9500, 10)]).met).toBe(false); // better p99 but slower
    const text = casesTables([http(15000, 12)]);
    expect(text).toContain('predictAsync, batched (default)');
    expect(text).toContain('1.50×');
    expect(text).toContain('p99');
    expect(chartRows([http(15000, 12)], null)).toEqual([]);
  });

  it('denormal target: the worst denormal/normal time ratio of the native kernels, below 1.5', () => {
    const rate = { kind: 'rate', unit: 'Melem/s', work: 1 };
    const denormal = (id: string, normal: number, slow: number) =>
      ({ ...record(id, 'denormal', rate, 'nativeNormal', { nativeNormal: ok([normal], rate), native: ok([slow], rate) }), short: id, chart: false });
    const fine = evaluateTargets([denormal('denormal-exp', 1e-3, 1.1e-3), denormal('denormal-tanh', 1e-3, 1.3e-3)], null).find((x: { id: string }) => x.id === 'denormal');
    expect(fine.value).toBeCloseTo(1.3, 10);
    expect(fine.measured).toBe('worst 1.30× (denormal-tanh)');
    expect(fine.met).toBe(true);
    const slow = evaluateTargets([denormal('denormal-exp', 1e-3, 1.1e-3), denormal('denormal-tanh', 1e-3, 3.3e-3)], null).find((x: { id: string }) => x.id === 'denormal');
    expect(slow.value).toBeCloseTo(3.3, 10);
    expect(slow.met).toBe(false);
    // Its own table (normal, denormal, pure TS, ratio) and no chart row.
    const recs = [denormal('denormal-tanh', 1e-3, 3.3e-3)];
    expect(casesTables(recs)).toContain('denormal / normal time');
    expect(casesTables(recs)).toContain('3.30×');
    expect(chartRows(recs, null)).toEqual([]);
  });

  it('chart rows: case speed-ups over their baseline and peers over tfjs-cpu', () => {
    const rows = chartRows(records, peers);
    const xor = rows.find((r: { label: string }) => r.label.startsWith('xor-step'));
    expect(xor.bars).toHaveLength(1);
    expect(xor.bars[0].series).toBe('myelin native');
    expect(xor.bars[0].value).toBeCloseTo(21 / 11, 10);
    const train = rows.find((r: { label: string }) => r.label.startsWith('train (vs tfjs-cpu)'));
    expect(train.bars.map((b: { series: string }) => b.series).sort()).toEqual(['myelin native', 'pytorch']);
    expect(train.bars.find((b: { series: string }) => b.series === 'pytorch').value).toBeCloseTo(25, 10);
  });

  it('tables show medians, skipped reasons and unavailable peers', () => {
    const recs = [...records, record('gemm-x', 'gemm', { kind: 'rate', unit: 'GFLOP/s', work: 2 }, 'naive', {
      native: ok([0.01], { kind: 'rate', work: 2 }),
      js: { status: 'skipped', reason: 'size > --max-js-gemm 1024' },
      naive: ok([1], { kind: 'rate', work: 2 }),
    })];
    const text = casesTables(recs);
    expect(text).toContain('skipped');
    expect(text).toContain('size > --max-js-gemm 1024');
    expect(text).toMatch(/gemm-x\s+GFLOP\/s\s+200/);
    expect(text).toContain('100×');
    const pt = peersTable(peers);
    expect(pt).toContain('tfjs-wasm: not installed');
    expect(pt).toMatch(/pytorch\s+6400/);
  });
});
