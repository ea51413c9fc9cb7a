// The metrics namespace: scikit-learn-style scores of whole prediction sets (accuracy, confusion matrix, precision/recall/F1, classification report, ROC AUC, MAE/MSE/RMSE/R2).
import { Tensor } from '../tensor';
import { checkNumber, checkOneOf, checkOptions, describe, invalid } from '../validate';
import { ConfusionCounts, RegressionSums, defaultAverage, rocAuc, type Average, type ClassScores } from './scores';

export type { Average, ClassScores } from './scores';

/** Class labels: integer class indices, or a Tensor ([n] indices, [n, k] one-hot / scores: argmax, [n, 1]: > threshold). */
export type ClassInput = Int32Array | Float32Array | readonly number[] | Tensor;

/** Float values for regression scores: flat, or a Tensor [n] / [n, outputs]. */
export type ValueInput = Float32Array | Float64Array | readonly number[] | Tensor;

/** Options of the classification metrics: classes (a count or their names). */
export interface ClassificationOptions {
  /** The number of classes, or their names (index i is names[i]). Default: the largest class seen + 1. */
  classes?: number | readonly string[];
  /** Where a single-column score Tensor [n, 1] splits class 0 from 1. Default 0.5 (pass 0 for logits). */
  threshold?: number;
}

/** Options of precision / recall / f1: classes, average (see below) and threshold. */
export interface AveragedOptions extends ClassificationOptions {
  /**
   * 'binary': class 1's score; 'macro': unweighted mean over the classes present (in yTrue or yPred);
   * 'weighted': mean weighted by support; 'micro': from pooled counts (= accuracy). Default: 'binary'
   * for two classes, 'macro' for more.
   */
  average?: Average;
}

/** Class indices of one input: labels as given, argmax of [n, k] rows, or [n, 1] scores above threshold. */
function classIndices(where: string, what: string, v: unknown, threshold: number): Int32Array {
  if (v instanceof Tensor) {
    if (v.ndim === 2 && v.shape[1] >= 1) {
      const [n, k] = v.shape;
      const out = new Int32Array(n);
      for (let r = 0; r < n; r++) {
        if (k === 1) {
          out[r] = v.data[r] > threshold ? 1 : 0;
          continue;
        }
        let best = 0;
        for (let c = 1; c < k; c++) if (v.data[r * k + c] > v.data[r * k + best]) best = c;
        out[r] = best;
      }
      return out;
    }
    if (v.ndim !== 1) {
      throw new Error(`${where}: ${what} must be class indices [n] or scores [n, classes], got a Tensor of shape [${v.shape.join(',')}]`);
    }
    return integerLabels(where, what, v.data, ' (a 1-D Tensor holds class indices; pass scores as [n, 1] or [n, classes])');
  }
  if (v instanceof Int32Array || v instanceof Float32Array || Array.isArray(v)) {
    return integerLabels(where, what, v as ArrayLike<number>, '');
  }
  throw new Error(`${where}: ${what} must be class labels (Int32Array, number[] or Tensor), got ${describe(v)}`);
}

function integerLabels(where: string, what: string, v: ArrayLike<number>, hint: string): Int32Array {
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (!Number.isInteger(x) || x < 0) {
      throw new Error(`${where}: ${what}[${i}] = ${describe(x)} is not a class index (an integer >= 0)${hint}`);
    }
    out[i] = x;
  }
  return out;
}

/** The confusion counts of yTrue against yPred, and the class names. */
function countPairs(
  where: string, yTrue: ClassInput, yPred: ClassInput, opts: ClassificationOptions, keys: readonly string[] = ['classes', 'threshold'],
): { counts: ConfusionCounts; names: string[] } {
  checkOptions(where, opts, keys);
  const threshold = opts.threshold === undefined ? 0.5 : checkNumber(where, 'threshold', opts.threshold);
  const t = classIndices(where, 'yTrue', yTrue, 0.5);
  const p = classIndices(where, 'yPred', yPred, threshold);
  if (t.length !== p.length) throw new Error(`${where}: yTrue has ${t.length} rows, yPred has ${p.length}`);
  let classes: number;
  let names: string[] | null = null;
  if (opts.classes === undefined) {
    classes = 0;
    for (let i = 0; i < t.length; i++) classes = Math.max(classes, t[i] + 1, p[i] + 1);
    if (yPred instanceof Tensor && yPred.ndim === 2) classes = Math.max(classes, yPred.shape[1] === 1 ? 2 : yPred.shape[1]);
  } else if (Array.isArray(opts.classes)) {
    names = opts.classes.map(String);
    classes = names.length;
  } else if (typeof opts.classes === 'number' && Number.isInteger(opts.classes) && opts.classes >= 1) {
    classes = opts.classes;
  } else {
    invalid(where, 'classes', 'a positive integer or an array of class names', opts.classes);
  }
  const counts = new ConfusionCounts(classes);
  for (let i = 0; i < t.length; i++) {
    if (t[i] >= classes || p[i] >= classes) {
      const [what, v] = t[i] >= classes ? ['yTrue', t[i]] : ['yPred', p[i]];
      throw new Error(`${where}: ${what}[${i}] = ${v} is not one of the ${classes} classes (0..${classes - 1})`);
    }
    counts.add(t[i], p[i]);
  }
  return { counts, names: names ?? Array.from({ length: classes }, (_, c) => String(c)) };
}

/**
 * Fraction of rows whose predicted class is the true class.
 * @param yTrue the true class indices (Int32Array, number[] or a Tensor).
 * @param yPred the predicted class indices, or scores [n, classes] (argmax taken) or [n, 1] (split at threshold).
 * @param opts classes (a count or names; default the largest class seen + 1), threshold (default 0.5).
 * @returns the fraction of rows predicted right.
 * @throws Error when an input is not class labels or scores, a label is not a class index (or beyond classes), the row counts differ, or an option is bad.
 * @example metrics.accuracyScore([0, 1, 1], [0, 1, 0]) // 0.667
 */
export function accuracyScore(yTrue: ClassInput, yPred: ClassInput, opts: ClassificationOptions = {}): number {
  return countPairs('accuracyScore', yTrue, yPred, opts).counts.accuracy();
}

/** A confusion matrix: rows are true classes, columns predicted classes (scikit-learn's layout). */
export interface ConfusionMatrix {
  /** matrix[t][p]: how many rows of true class t were predicted as class p. */
  matrix: number[][];
  /** Class names: the ones given, else '0', '1', ... */
  classes: string[];
  /** Rows counted. */
  total: number;
  /** The matrix as an aligned text table with class names. */
  toString(): string;
}

/**
 * Counts of (true class, predicted class) over all rows. yPred may be labels or scores [n, classes] (argmax).
 * @param yTrue the true class indices (Int32Array, number[] or a Tensor).
 * @param yPred the predicted class indices, or scores [n, classes] (argmax taken) or [n, 1] (split at threshold).
 * @param opts classes (a count or names; default the largest class seen + 1), threshold (default 0.5).
 * @returns the counts (rows: true class, columns: predicted), printable with toString().
 * @throws Error when an input is not class labels or scores, a label is not a class index (or beyond classes), the row counts differ, or an option is bad.
 * @example console.log(String(metrics.confusionMatrix(yTest, predict(model, xTest))))
 */
export function confusionMatrix(yTrue: ClassInput, yPred: ClassInput, opts: ClassificationOptions = {}): ConfusionMatrix {
  const { counts, names } = countPairs('confusionMatrix', yTrue, yPred, opts);
  const K = counts.classes;
  const matrix = Array.from({ length: K }, (_, t) => Array.from(counts.counts.subarray(t * K, (t + 1) * K)));
  return {
    matrix,
    classes: names,
    total: counts.total,
    toString(): string {
      const head = ['true \\ pred', ...names];
      const rows = matrix.map((r, t) => [names[t], ...r.map(String)]);
      const width = Math.max(...[head, ...rows].flat().map((c) => c.length));
      return [head, ...rows].map((r) => r.map((c) => c.padStart(width)).join('  ')).join('\n');
    },
  };
}

const AVERAGES = ['binary', 'macro', 'micro', 'weighted', 'none'] as const;

/** Options of precisionScore / recallScore / f1Score: average 'none' gives one value per class. */
type ScoreOptions = ClassificationOptions & { average?: Average | 'none' };

function averaged(where: string, score: keyof ClassScores, yTrue: ClassInput, yPred: ClassInput, opts: ScoreOptions): number | number[] {
  const { counts } = countPairs(where, yTrue, yPred, opts, ['classes', 'threshold', 'average']);
  const average = opts.average ?? defaultAverage(counts.classes);
  if (average === 'none') return counts.perClass().map((s) => s[score]);
  checkOneOf(where, 'average', average, AVERAGES);
  if (average === 'binary' && counts.classes > 2) {
    throw new Error(`${where}: average 'binary' needs two classes, the data has ${counts.classes} (use 'macro', 'weighted' or 'micro')`);
  }
  return counts.average(average)[score];
}

/**
 * Precision tp / (tp + fp): averaged (see AveragedOptions), or one per class with average 'none'. 0/0 counts as 0.
 * @param yTrue the true class indices (Int32Array, number[] or a Tensor).
 * @param yPred the predicted class indices, or scores [n, classes] (argmax taken) or [n, 1] (split at threshold).
 * @param opts classes (a count or names; default the largest class seen + 1), threshold (default 0.5), average ('binary' for two classes, else 'macro'; 'weighted', 'micro', 'none').
 * @returns the averaged precision, or one per class with average 'none'.
 * @throws Error when an input is not class labels or scores, a label is not a class index (or beyond classes), the row counts differ, or an option is bad, or average 'binary' with more than two classes.
 * @example metrics.precisionScore([0, 1, 1, 0], [0, 1, 0, 0]) // binary: class 1's precision
 */
export function precisionScore(yTrue: ClassInput, yPred: ClassInput, opts: ClassificationOptions & { average: 'none' }): number[];
export function precisionScore(yTrue: ClassInput, yPred: ClassInput, opts?: AveragedOptions): number;
export function precisionScore(yTrue: ClassInput, yPred: ClassInput, opts: ScoreOptions = {}): number | number[] {
  return averaged('precisionScore', 'precision', yTrue, yPred, opts);
}

/**
 * Recall tp / (tp + fn): averaged, or one per class with average 'none'.
 * @param yTrue the true class indices (Int32Array, number[] or a Tensor).
 * @param yPred the predicted class indices, or scores [n, classes] (argmax taken) or [n, 1] (split at threshold).
 * @param opts classes (a count or names; default the largest class seen + 1), threshold (default 0.5), average ('binary' for two classes, else 'macro'; 'weighted', 'micro', 'none').
 * @returns the averaged recall, or one per class with average 'none'.
 * @throws Error when an input is not class labels or scores, a label is not a class index (or beyond classes), the row counts differ, or an option is bad, or average 'binary' with more than two classes.
 * @example metrics.recallScore([0, 1, 1, 0], [0, 1, 0, 0]) // binary: class 1's recall
 */
export function recallScore(yTrue: ClassInput, yPred: ClassInput, opts: ClassificationOptions & { average: 'none' }): number[];
export function recallScore(yTrue: ClassInput, yPred: ClassInput, opts?: AveragedOptions): number;
export function recallScore(yTrue: ClassInput, yPred: ClassInput, opts: ScoreOptions = {}): number | number[] {
  return averaged('recallScore', 'recall', yTrue, yPred, opts);
}

/**
 * F1 = 2 tp / (2 tp + fp + fn): averaged, or one per class with average 'none'.
 * @param yTrue the true class indices (Int32Array, number[] or a Tensor).
 * @param yPred the predicted class indices, or scores [n, classes] (argmax taken) or [n, 1] (split at threshold).
 * @param opts classes (a count or names; default the largest class seen + 1), threshold (default 0.5), average ('binary' for two classes, else 'macro'; 'weighted', 'micro', 'none').
 * @returns the averaged F1, or one per class with average 'none'.
 * @throws Error when an input is not class labels or scores, a label is not a class index (or beyond classes), the row counts differ, or an option is bad, or average 'binary' with more than two classes.
 * @example metrics.f1Score([0, 1, 1, 0], [0, 1, 0, 0]) // binary: class 1's F1
 */
export function f1Score(yTrue: ClassInput, yPred: ClassInput, opts: ClassificationOptions & { average: 'none' }): number[];
export function f1Score(yTrue: ClassInput, yPred: ClassInput, opts?: AveragedOptions): number;
export function f1Score(yTrue: ClassInput, yPred: ClassInput, opts: ScoreOptions = {}): number | number[] {
  return averaged('f1Score', 'f1', yTrue, yPred, opts);
}

/** Per-class precision, recall, F1 and support, with accuracy and the macro and weighted averages (scikit-learn's report). */
export interface ClassificationReport {
  /** One entry per class; a class in neither yTrue nor yPred has support 0 and is left out of the averages. */
  perClass: (ClassScores & { name: string })[];
  accuracy: number;
  macro: ClassScores;
  weighted: ClassScores;
  /** A text table like scikit-learn's classification_report. */
  toString(): string;
}

/**
 * Precision, recall, F1 and support per class, with macro and weighted averages (as scikit-learn's classification_report).
 * @param yTrue the true class indices (Int32Array, number[] or a Tensor).
 * @param yPred the predicted class indices, or scores [n, classes] (argmax taken) or [n, 1] (split at threshold).
 * @param opts classes (a count or names; default the largest class seen + 1), threshold (default 0.5).
 * @returns per-class precision, recall, F1 and support with macro and weighted averages, printable with toString().
 * @throws Error when an input is not class labels or scores, a label is not a class index (or beyond classes), the row counts differ, or an option is bad.
 * @example console.log(String(metrics.classificationReport(yTest, yPred, { classes: ["cat", "dog"] })))
 */
export function classificationReport(yTrue: ClassInput, yPred: ClassInput, opts: ClassificationOptions = {}): ClassificationReport {
  const { counts, names } = countPairs('classificationReport', yTrue, yPred, opts);
  const perClass = counts.perClass().map((s, c) => ({ name: names[c], ...s }));
  const accuracy = counts.accuracy();
  const macro = counts.average('macro');
  const weighted = counts.average('weighted');
  return {
    perClass, accuracy, macro, weighted,
    toString(): string {
      const width = Math.max(12, ...names.map((n) => n.length));
      const num = (v: number): string => v.toFixed(4).padStart(10);
      const line = (label: string, s: ClassScores): string =>
        `${label.padStart(width)}${num(s.precision)}${num(s.recall)}${num(s.f1)}${String(s.support).padStart(10)}`;
      return [
        `${''.padStart(width)}${'precision'.padStart(10)}${'recall'.padStart(10)}${'f1-score'.padStart(10)}${'support'.padStart(10)}`,
        '',
        ...perClass.map((s) => line(s.name, s)),
        '',
        `${'accuracy'.padStart(width)}${''.padStart(20)}${num(accuracy)}${String(counts.total).padStart(10)}`,
        line('macro avg', macro),
        line('weighted avg', weighted),
      ].join('\n');
    },
  };
}

/** Scores for ROC AUC: one per row (flat or [n, 1]), or [n, 2] (column 1 minus column 0). */
function binaryScores(where: string, scores: unknown, n: number): Float64Array {
  let values: ArrayLike<number>;
  let cols = 1;
  if (scores instanceof Tensor) {
    cols = scores.ndim === 2 ? scores.shape[1] : 1;
    if (scores.ndim > 2 || cols > 2) {
      throw new Error(`${where}: scores must be [n], [n, 1] or [n, 2] for binary classification, got [${scores.shape.join(',')}]`);
    }
    values = scores.data;
  } else if (scores instanceof Float32Array || scores instanceof Float64Array || Array.isArray(scores)) {
    values = scores as ArrayLike<number>;
  } else {
    throw new Error(`${where}: scores must be a Float32Array, number[] or Tensor, got ${describe(scores)}`);
  }
  if (values.length !== n * cols) throw new Error(`${where}: ${n} labels but ${values.length / cols} score rows`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = cols === 2 ? values[2 * i + 1] - values[2 * i] : values[i];
    if (!Number.isFinite(s)) throw new Error(`${where}: score of row ${i} is ${s}`);
    out[i] = s;
  }
  return out;
}

/**
 * Area under the ROC curve for binary labels (0/1) and scores (probabilities or logits of class 1;
 * [n, 2] uses column 1 minus column 0). Tied scores count half, as in scikit-learn.
 * @param yTrue binary labels 0 and 1.
 * @param scores scores of class 1 (probabilities or logits), [n], or [n, 2] (column 1 minus column 0).
 * @returns the area under the ROC curve.
 * @throws Error when a label is not 0 or 1, the inputs have the wrong type or different lengths, or only one class is present in yTrue.
 * @example metrics.rocAucScore([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) // 0.75
 */
export function rocAucScore(yTrue: ClassInput, scores: ValueInput): number {
  const where = 'rocAucScore';
  const labels = classIndices(where, 'yTrue', yTrue, 0.5);
  labels.forEach((v, i) => {
    if (v > 1) throw new Error(`${where}: yTrue[${i}] = ${v}: ROC AUC needs binary labels 0 and 1`);
  });
  const auc = rocAuc(labels, binaryScores(where, scores, labels.length));
  if (Number.isNaN(auc)) throw new Error(`${where}: only one class is present in yTrue; ROC AUC is not defined then`);
  return auc;
}

/** Float64 values of a regression input and its number of outputs per row. */
function regressionValues(where: string, what: string, v: unknown): { values: ArrayLike<number>; outputs: number | null } {
  if (v instanceof Tensor) {
    if (v.ndim > 2) throw new Error(`${where}: ${what} must be [n] or [n, outputs], got [${v.shape.join(',')}]`);
    return { values: v.data, outputs: v.ndim === 2 ? v.shape[1] : null };
  }
  if (v instanceof Float32Array || v instanceof Float64Array || Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (typeof v[i] !== 'number') throw new Error(`${where}: ${what}[${i}] is ${describe(v[i])}, not a number`);
    }
    return { values: v as ArrayLike<number>, outputs: null };
  }
  throw new Error(`${where}: ${what} must be a Float32Array, number[] or Tensor, got ${describe(v)}`);
}

function regressionSums(where: string, yTrue: ValueInput, yPred: ValueInput): RegressionSums {
  const t = regressionValues(where, 'yTrue', yTrue);
  const p = regressionValues(where, 'yPred', yPred);
  if (t.values.length !== p.values.length) {
    throw new Error(`${where}: yTrue has ${t.values.length} values, yPred has ${p.values.length}`);
  }
  if (t.outputs !== null && p.outputs !== null && t.outputs !== p.outputs) {
    throw new Error(`${where}: yTrue has ${t.outputs} outputs per row, yPred has ${p.outputs}`);
  }
  const outputs = t.outputs ?? p.outputs ?? 1;
  if (t.values.length === 0) throw new Error(`${where}: no values to score`);
  const sums = new RegressionSums();
  sums.add(p.values, t.values, t.values.length / outputs, outputs, where);
  return sums;
}

/**
 * Mean of |yPred - yTrue| over every value.
 * @param yTrue the targets, [n] or [n, outputs] (Float32Array, Float64Array, number[] or Tensor).
 * @param yPred the predictions, of the same shape.
 * @throws Error when an input has the wrong type or rank, holds a non-number, the shapes differ, or there are no values.
 * @example metrics.meanAbsoluteError([1, 2], [1, 4]) // 1
 */
export function meanAbsoluteError(yTrue: ValueInput, yPred: ValueInput): number {
  return regressionSums('meanAbsoluteError', yTrue, yPred).mae();
}

/**
 * Mean of (yPred - yTrue)^2 over every value.
 * @param yTrue the targets, [n] or [n, outputs] (Float32Array, Float64Array, number[] or Tensor).
 * @param yPred the predictions, of the same shape.
 * @throws Error when an input has the wrong type or rank, holds a non-number, the shapes differ, or there are no values.
 * @example metrics.meanSquaredError([1, 2], [1, 4]) // 2
 */
export function meanSquaredError(yTrue: ValueInput, yPred: ValueInput): number {
  return regressionSums('meanSquaredError', yTrue, yPred).mse();
}

/**
 * Square root of the mean squared error of each output (column of [n, outputs]), averaged over outputs.
 * @param yTrue the targets, [n] or [n, outputs] (Float32Array, Float64Array, number[] or Tensor).
 * @param yPred the predictions, of the same shape.
 * @throws Error when an input has the wrong type or rank, holds a non-number, the shapes differ, or there are no values.
 * @example metrics.rootMeanSquaredError([1, 2], [1, 4]) // 1.414
 */
export function rootMeanSquaredError(yTrue: ValueInput, yPred: ValueInput): number {
  return regressionSums('rootMeanSquaredError', yTrue, yPred).rmse();
}

/**
 * Coefficient of determination 1 - sum (y - pred)^2 / sum (y - mean y)^2 of each output, averaged
 * over outputs; an output with constant targets scores 1 if predicted exactly, else 0 (scikit-learn).
 * @param yTrue the targets, [n] or [n, outputs] (Float32Array, Float64Array, number[] or Tensor).
 * @param yPred the predictions, of the same shape.
 * @throws Error when an input has the wrong type or rank, holds a non-number, the shapes differ, or there are no values.
 * @example metrics.r2Score([1, 2, 3], [1, 2, 3]) // 1
 */
export function r2Score(yTrue: ValueInput, yPred: ValueInput): number {
  return regressionSums('r2Score', yTrue, yPred).r2();
}
