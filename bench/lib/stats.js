// Summary statistics for benchmark samples: quantiles, median, IQR, min/max, relative spread.
'use strict';

/** Linear-interpolated quantile q in [0, 1] of an ascending-sorted array (R type 7, numpy default). */
function quantileSorted(sorted, q) {
  if (sorted.length === 0) throw new Error('quantile: no samples');
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile: q must be in [0, 1], got ${q}`);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median of any array of finite numbers. */
function median(values) {
  return quantileSorted([...values].sort((a, b) => a - b), 0.5);
}

/**
 * Summary of samples (e.g. seconds per operation): n, median, mean, min, max, q1, q3, iqr and
 * relSpread = iqr / median (0 when the median is 0). Throws on an empty array or a non-finite sample.
 */
function summarize(samples) {
  if (!Array.isArray(samples) || samples.length === 0) throw new Error('summarize: no samples');
  for (const s of samples) {
    if (typeof s !== 'number' || !Number.isFinite(s)) throw new Error(`summarize: non-finite sample ${s}`);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  const med = quantileSorted(sorted, 0.5);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    n: sorted.length,
    median: med,
    mean,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    q1,
    q3,
    iqr: q3 - q1,
    relSpread: med === 0 ? 0 : (q3 - q1) / med,
  };
}

/**
 * Converts a summary of seconds-per-operation into a summary of a rate (work / seconds): the
 * median maps to work / median time; min and max swap (the fastest time is the highest rate).
 */
function rateFromTime(timeSummary, work) {
  const t = timeSummary;
  return {
    n: t.n,
    median: work / t.median,
    min: work / t.max,
    max: work / t.min,
    q1: work / t.q3,
    q3: work / t.q1,
    relSpread: t.relSpread,
  };
}

/**
 * The ratio of two candidates measured in the same interleaved run, pair by pair: rep r of `num` against rep r of
 * `den` (runInterleaved runs them in adjacent blocks), so slow phases of the machine hit both sides of a pair.
 * Returns the summary of den[r] / num[r] (for seconds per operation: num's throughput relative to den's, 1 = as fast)
 * with halfIqr, the ± spread reported next to the median.
 */
function pairedRatio(numSeconds, denSeconds) {
  if (!Array.isArray(numSeconds) || !Array.isArray(denSeconds) || numSeconds.length !== denSeconds.length) {
    throw new Error(`pairedRatio: need two sample arrays of the same length, got ${numSeconds && numSeconds.length} and ${denSeconds && denSeconds.length}`);
  }
  const s = summarize(numSeconds.map((t, i) => denSeconds[i] / t));
  return { ...s, halfIqr: s.iqr / 2 };
}

module.exports = { quantileSorted, median, summarize, rateFromTime, pairedRatio };
