// Whole-dataset scoring maths shared by fit's metrics and the standalone metrics functions: confusion counts and the precision/recall/F1 they give, ROC AUC by ranks, and streaming regression sums.

/** How per-class precision / recall / F1 are combined into one number (scikit-learn's `average`). */
export type Average = 'binary' | 'macro' | 'micro' | 'weighted';

/** Precision, recall and F1 of one class (or an average), and how many rows truly belong to it. */
export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Counts of (true class, predicted class) pairs: counts[t * classes + p]. Grows when a larger class index arrives. */
export class ConfusionCounts {
  classes: number;
  counts: Float64Array;

  constructor(classes = 0) {
    this.classes = classes;
    this.counts = new Float64Array(classes * classes);
  }

  reset(): void {
    this.counts.fill(0);
  }

  /** Widens the matrix to at least `classes` classes, keeping the counts. */
  grow(classes: number): void {
    if (classes <= this.classes) return;
    const next = new Float64Array(classes * classes);
    for (let t = 0; t < this.classes; t++) {
      for (let p = 0; p < this.classes; p++) next[t * classes + p] = this.counts[t * this.classes + p];
    }
    this.classes = classes;
    this.counts = next;
  }

  add(trueClass: number, predClass: number): void {
    const need = Math.max(trueClass, predClass) + 1;
    if (need > this.classes) this.grow(need);
    this.counts[trueClass * this.classes + predClass]++;
  }

  get total(): number {
    let s = 0;
    for (let i = 0; i < this.counts.length; i++) s += this.counts[i];
    return s;
  }

  /** Fraction of rows on the diagonal (NaN with no rows). */
  accuracy(): number {
    let diag = 0;
    for (let c = 0; c < this.classes; c++) diag += this.counts[c * this.classes + c];
    const total = this.total;
    return total === 0 ? NaN : diag / total;
  }

  /** Per-class scores; a 0/0 precision or recall is 0 (scikit-learn's zero_division default). */
  perClass(): ClassScores[] {
    const K = this.classes;
    const out: ClassScores[] = [];
    for (let c = 0; c < K; c++) {
      let predicted = 0;
      let actual = 0;
      for (let o = 0; o < K; o++) {
        predicted += this.counts[o * K + c];
        actual += this.counts[c * K + o];
      }
      const tp = this.counts[c * K + c];
      const precision = predicted === 0 ? 0 : tp / predicted;
      const recall = actual === 0 ? 0 : tp / actual;
      const f1 = predicted + actual === 0 ? 0 : (2 * tp) / (predicted + actual);
      out.push({ precision, recall, f1, support: actual });
    }
    return out;
  }

  /** Classes that occur among the true or the predicted classes (the ones an average covers). */
  present(): boolean[] {
    const K = this.classes;
    const seen: boolean[] = [];
    for (let c = 0; c < K; c++) {
      let any = false;
      for (let o = 0; o < K && !any; o++) any = this.counts[c * K + o] > 0 || this.counts[o * K + c] > 0;
      seen.push(any);
    }
    return seen;
  }

  /**
   * One averaged score. 'binary': the scores of class 1; 'macro': the unweighted mean over the
   * classes present (in the true or predicted classes, as scikit-learn does without `labels`);
   * 'weighted': the mean weighted by support; 'micro': from the pooled counts (equal to accuracy
   * for single-label data). NaN with no rows.
   */
  average(average: Average): ClassScores {
    const total = this.total;
    if (total === 0) return { precision: NaN, recall: NaN, f1: NaN, support: 0 };
    const per = this.perClass();
    if (average === 'binary') {
      return per[1] ?? { precision: 0, recall: 0, f1: 0, support: 0 };
    }
    if (average === 'micro') {
      const a = this.accuracy();
      return { precision: a, recall: a, f1: a, support: total };
    }
    const present = this.present();
    let wSum = 0;
    const acc = { precision: 0, recall: 0, f1: 0 };
    per.forEach((s, c) => {
      if (!present[c]) return;
      const w = average === 'weighted' ? s.support : 1;
      wSum += w;
      acc.precision += w * s.precision;
      acc.recall += w * s.recall;
      acc.f1 += w * s.f1;
    });
    if (wSum === 0) return { precision: 0, recall: 0, f1: 0, support: total };
    return { precision: acc.precision / wSum, recall: acc.recall / wSum, f1: acc.f1 / wSum, support: total };
  }
}

/** 'binary' for two classes, 'macro' for more: what `precision` / `recall` / `f1` mean by default. */
export function defaultAverage(classes: number): Average {
  return classes <= 2 ? 'binary' : 'macro';
}

/**
 * Area under the ROC curve of scores for binary labels (1 = positive), by the rank-sum
 * (Mann-Whitney) formula with tied scores sharing their mean rank, which equals the trapezoidal
 * area scikit-learn's roc_auc_score computes. NaN when only one class is present.
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>, n = labels.length): number {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && scores[order[j]] === scores[order[i]]) j++;
    const meanRank = (i + 1 + j) / 2; // ranks i+1 .. j
    for (let k = i; k < j; k++) {
      if (labels[order[k]] === 1) {
        positives++;
        rankSum += meanRank;
      }
    }
    i = j;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Per-output sums for regression scores, accumulated in float64 (Welford for the target variance). */
export class RegressionSums {
  outputs = 0;
  count = 0;
  private absErr = new Float64Array(0);
  private sqErr = new Float64Array(0);
  private mean = new Float64Array(0);
  private m2 = new Float64Array(0);

  reset(): void {
    this.outputs = 0;
    this.count = 0;
  }

  /** Adds `rows` rows of `outputs` predictions and targets (row-major). */
  add(pred: ArrayLike<number>, target: ArrayLike<number>, rows: number, outputs: number, where: string): void {
    if (this.count === 0) {
      this.outputs = outputs;
      this.absErr = new Float64Array(outputs);
      this.sqErr = new Float64Array(outputs);
      this.mean = new Float64Array(outputs);
      this.m2 = new Float64Array(outputs);
    } else if (outputs !== this.outputs) {
      throw new Error(`${where}: rows have ${outputs} outputs, earlier rows had ${this.outputs}`);
    }
    for (let r = 0; r < rows; r++) {
      const k = this.count + r + 1;
      for (let j = 0; j < outputs; j++) {
        const y = target[r * outputs + j];
        const d = pred[r * outputs + j] - y;
        this.absErr[j] += Math.abs(d);
        this.sqErr[j] += d * d;
        const delta = y - this.mean[j];
        this.mean[j] += delta / k;
        this.m2[j] += delta * (y - this.mean[j]);
      }
    }
    this.count += rows;
  }

  /** Mean absolute error over every value. */
  mae(): number {
    return this.count === 0 ? NaN : sumOf(this.absErr) / (this.count * this.outputs);
  }

  /** Mean squared error over every value. */
  mse(): number {
    return this.count === 0 ? NaN : sumOf(this.sqErr) / (this.count * this.outputs);
  }

  /** Root mean squared error of each output, averaged over outputs (scikit-learn's uniform_average). */
  rmse(): number {
    if (this.count === 0) return NaN;
    let s = 0;
    for (let j = 0; j < this.outputs; j++) s += Math.sqrt(this.sqErr[j] / this.count);
    return s / this.outputs;
  }

  /**
   * Coefficient of determination 1 - SSE / SStot of each output, averaged over outputs. An output
   * whose targets are constant scores 1 when predicted exactly, else 0 (scikit-learn's force_finite).
   */
  r2(): number {
    if (this.count === 0) return NaN;
    let s = 0;
    for (let j = 0; j < this.outputs; j++) {
      const tot = this.m2[j];
      const sse = this.sqErr[j];
      s += tot === 0 ? (sse === 0 ? 1 : 0) : 1 - sse / tot;
    }
    return s / this.outputs;
  }
}

function sumOf(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}
