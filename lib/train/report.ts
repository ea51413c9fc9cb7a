// Training reports: fit(..., { report: 'run.html' }) and `myelin train --report run.html` write one
// self-contained HTML file (inline SVG, no scripts, no network): loss and metric curves, the learning-rate
// schedule, a confusion matrix or predicted-vs-true scatter, the model summary, data, settings, machine, time.
import * as fs from 'fs';
import * as os from 'os';
import { Tensor } from '../tensor';
import { writeFileAtomicSync } from '../io/atomic';
import { info } from '../backend/select';
import { predict } from '../serve/run';
import { isDataset, type Dataset } from '../data/dataset';
import { prepareData, sliceRows, type PreparedData } from './prepared';
import { validationSplitRows } from './fit';
import { lineChart, scatterChart, confusionChart, escapeXml, type LineSeries } from './report-svg';
import type { Callback, FitData, History, TrainableModel, TrainContext } from './types';
import type { FitOptions } from './fit';
import { checkReportOption, type ReportOption, type ReportSettings } from './report-options';

export type { ReportOption, ReportSettings } from './report-options';

/** The options of fit that a report reads (in-memory or dataset fit). */
type ReportFitOptions = Omit<FitOptions, 'validationData'> & { validationData?: FitData | Dataset<unknown>; report?: ReportOption; stepsPerEpoch?: number };

/** What the recording callback saw during training. */
interface Recorded {
  ctx: TrainContext | null;
  /** [epoch, batch index, lr after the batch]. */
  lrSteps: [number, number, number][];
  startedAt: Date;
  started: number;
}

/** A callback recording the run's settings (onTrainBegin) and the learning rate after every batch. */
function recorder(rec: Recorded): Callback {
  return {
    onTrainBegin(ctx) {
      rec.ctx = ctx;
      rec.startedAt = new Date();
      rec.started = performance.now();
    },
    onBatchEnd(batch, _logs, ctx) {
      rec.lrSteps.push([ctx.epoch, batch, ctx.optimizer.lr]);
    },
  };
}

/**
 * Prepares a fit with a report: checks the option (before any training), adds the recording callback and
 * returns the options to train with and finish(history), which writes the report and returns the history.
 */
export function reportSetup<O extends { report?: ReportOption; callbacks?: Callback | Callback[] }>(model: TrainableModel, data: FitData | Dataset<unknown>, opts: O): { options: O; finish(history: History): History } {
  const options = opts as unknown as ReportFitOptions;
  const settings = checkReportOption(options.report);
  const rec: Recorded = { ctx: null, lrSteps: [], startedAt: new Date(), started: performance.now() };
  const given = options.callbacks === undefined ? [] : Array.isArray(options.callbacks) ? options.callbacks : [options.callbacks];
  const trainOptions = { ...opts, callbacks: [...given, recorder(rec)] };
  delete trainOptions.report;
  return {
    options: trainOptions,
    finish(history) {
      const html = reportHtml({ model, data, options, settings, history, rec, finished: new Date(), seconds: (performance.now() - rec.started) / 1000 });
      writeFileAtomicSync(settings.path, html);
      return history;
    },
  };
}

/** Everything a report is made from. */
export interface ReportInput {
  model: TrainableModel;
  data: FitData | Dataset<unknown>;
  options: ReportFitOptions;
  settings: ReportSettings;
  history: History;
  rec: Recorded;
  finished: Date;
  /** Wall-clock seconds of the whole fit call. */
  seconds: number;
}

/** The evaluation section's data: which rows and what they are called, or why there is none. */
function evaluationRows(input: ReportInput): { rows: PreparedData; name: string; classNames: readonly string[] | null } | { skip: string } {
  const { settings, options, data } = input;
  const namesOf = (d: unknown): readonly string[] | null => {
    const c = (d as { classNames?: unknown })?.classNames;
    if (Array.isArray(c) && c.every((v) => typeof v === 'string')) return c as string[];
    const p = (input.model as { preprocessor?: { classNames?: unknown } }).preprocessor?.classNames;
    return Array.isArray(p) ? (p as string[]) : null;
  };
  if (settings.evaluationData !== undefined) {
    return { rows: prepareData(settings.evaluationData, 'fit', 'report.evaluationData'), name: settings.evaluationName ?? 'evaluationData', classNames: namesOf(settings.evaluationData) };
  }
  if (options.validationData !== undefined && !isDataset(options.validationData)) {
    return { rows: prepareData(options.validationData, 'fit', 'validationData'), name: 'the validation data (validationData)', classNames: namesOf(options.validationData) };
  }
  if (isDataset(data)) {
    return { skip: 'The training data is a data.Dataset (a stream, read once): pass report: { path, evaluationData: { x, y } } to draw this from in-memory rows.' };
  }
  const all = prepareData(data, 'fit');
  if (options.validationSplit !== undefined) {
    const nVal = validationSplitRows(all.n, options.validationSplit);
    return { rows: sliceRows(all, all.n - nVal, all.n), name: `the validation rows (validationSplit ${options.validationSplit}: the last ${nVal} rows)`, classNames: namesOf(data) };
  }
  return { rows: all, name: 'the training data (no validation data was given)', classNames: namesOf(data) };
}

/** Predictions of the model on prepared rows (one input): a Tensor [rows, outputs]. */
function predictRows(model: TrainableModel, rows: PreparedData): { values: Float32Array; width: number } {
  const x = new Tensor(rows.x.slice(0, rows.n * rows.rowSize), [rows.n, ...rows.rowShape]);
  const y = predict(model as unknown as Parameters<typeof predict>[0], x);
  if (!(y instanceof Tensor)) throw new Error('the model returned several outputs');
  const width = y.ndim <= 1 ? 1 : y.size / y.shape[0];
  return { values: y.data, width };
}

/** The evaluation section: confusion matrix (labels) or predicted-vs-true scatter (float targets), with its figures. */
function evaluationSection(input: ReportInput): { html: string; svg: string | null; kind: 'classification' | 'regression' | 'none'; summary: [string, string][] } {
  let ev: ReturnType<typeof evaluationRows>;
  try {
    ev = evaluationRows(input);
    if ('rows' in ev && (ev.rows.inputs !== null || (ev.rows.outputs ?? null) !== null)) {
      ev = { skip: 'The model takes several inputs or gives several outputs; the report draws the confusion matrix or scatter for one-input, one-output models.' };
    }
  } catch (err) {
    ev = { skip: `No evaluation: ${(err as Error).message}` };
  }
  if ('skip' in ev) return { html: `<p class="note">${escapeXml(ev.skip)}</p>`, svg: null, kind: 'none', summary: [] };
  const { rows, name } = ev;
  let pred: { values: Float32Array; width: number };
  try {
    pred = predictRows(input.model, rows);
  } catch (err) {
    return { html: `<p class="note">${escapeXml(`The model could not be run on ${name}: ${(err as Error).message}`)}</p>`, svg: null, kind: 'none', summary: [] };
  }
  if (rows.labels !== null) {
    const labels = rows.labels;
    const predicted = new Int32Array(rows.n);
    for (let i = 0; i < rows.n; i++) {
      if (pred.width === 1) predicted[i] = pred.values[i] > 0 ? 1 : 0; // one logit (bceWithLogits): class 1 when positive
      else {
        let best = 0;
        for (let c = 1; c < pred.width; c++) if (pred.values[i * pred.width + c] > pred.values[i * pred.width + best]) best = c;
        predicted[i] = best;
      }
    }
    let k = Math.max(pred.width === 1 ? 2 : pred.width, 1);
    for (const l of labels) k = Math.max(k, l + 1);
    const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    let correct = 0;
    for (let i = 0; i < rows.n; i++) {
      matrix[labels[i]][predicted[i]]++;
      if (labels[i] === predicted[i]) correct++;
    }
    const names = Array.from({ length: k }, (_, i) => ev.classNames?.[i] ?? String(i));
    const accuracy = correct / Math.max(1, rows.n);
    const svg = confusionChart(matrix, names, `Confusion matrix: ${rows.n} rows, accuracy ${(accuracy * 100).toFixed(2)}%`);
    const html = `<p>The confusion matrix is computed on ${escapeXml(name)}. Rows are the true classes, columns the predicted ones; the diagonal holds the correct predictions (blue), the rest the errors (orange).</p>`;
    return { html, svg, kind: 'classification', summary: [['accuracy on ' + name, `${(accuracy * 100).toFixed(2)}% (${correct} of ${rows.n} rows)`]] };
  }
  const targets = rows.targets as Float32Array;
  const tw = rows.targetSize;
  const n = rows.n;
  const truth = new Float32Array(n);
  const guess = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    truth[i] = targets[i * tw];
    guess[i] = pred.values[i * pred.width];
  }
  let mean = 0;
  for (const t of truth) mean += t / n;
  let ssRes = 0;
  let ssTot = 0;
  let abs = 0;
  for (let i = 0; i < n; i++) {
    ssRes += (guess[i] - truth[i]) ** 2;
    ssTot += (truth[i] - mean) ** 2;
    abs += Math.abs(guess[i] - truth[i]);
  }
  const r2 = ssTot > 0 ? 1 - ssRes / ssTot : NaN;
  const rmse = Math.sqrt(ssRes / n);
  // At most 2,000 points (evenly spaced rows), so the file stays small.
  const step = Math.max(1, Math.ceil(n / 2000));
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i += step) { xs.push(truth[i]); ys.push(guess[i]); }
  const svg = scatterChart(xs, ys, { title: `Predicted vs true: ${n} rows, R² ${Number.isFinite(r2) ? r2.toFixed(3) : 'n/a'}`, xLabel: 'true value', yLabel: 'predicted value', identity: true });
  const html = `<p>The predicted-vs-true scatter is computed on ${escapeXml(name)}${tw > 1 ? ` (the first of ${tw} targets)` : ''}${step > 1 ? `; every ${step}th row drawn` : ''}. Points on the dashed line are predicted exactly.</p>`;
  return {
    html, svg, kind: 'regression',
    summary: [['R² on ' + name, Number.isFinite(r2) ? r2.toFixed(4) : 'n/a'], ['RMSE', fmtNum(rmse)], ['MAE', fmtNum(abs / n)]],
  };
}

function fmtNum(v: number | undefined): string {
  if (v === undefined || v === null) return 'n/a';
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(5)));
}

function table(rows: [string, string][], id: string): string {
  return `<table id="${id}">\n${rows.map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`).join('\n')}\n</table>`;
}

/** The curves: loss, each metric (training and validation), and the learning rate. */
function curveCharts(history: History, rec: Recorded, lossName: string): string[] {
  const x = history.epoch.map((e) => e + 1);
  const pair = (name: string, train: readonly number[], val: readonly number[], yLabel: string): string => {
    const series: LineSeries[] = [];
    if (train.length > 0) series.push({ name: `training ${name}`, x, y: train });
    if (val.length > 0) series.push({ name: `validation ${name}`, x, y: val });
    return lineChart(series, { title: `${name[0].toUpperCase()}${name.slice(1)} per epoch`, xLabel: 'epoch', yLabel });
  };
  const charts = [pair('loss', history.loss, history.valLoss, `loss (${lossName})`)];
  if (history.accuracy.length > 0 || history.valAccuracy.length > 0) charts.push(pair('accuracy', history.accuracy, history.valAccuracy, 'accuracy (fraction correct)'));
  const metrics = history.metrics ?? {};
  for (const k of Object.keys(metrics)) {
    if (/^val[A-Z]/.test(k)) continue;
    const valKey = `val${k[0].toUpperCase()}${k.slice(1)}`;
    charts.push(pair(k, metrics[k], metrics[valKey] ?? [], k));
  }
  for (const k of Object.keys(metrics)) {
    // A validation metric without its training twin.
    if (/^val[A-Z]/.test(k) && metrics[`${k[3].toLowerCase()}${k.slice(4)}`] === undefined) charts.push(pair(k, [], metrics[k], k));
  }
  charts.push(lineChart([lrSeries(history, rec)], { title: 'Learning rate', xLabel: 'epoch', yLabel: 'learning rate', colourOffset: 2 }));
  return charts;
}

/** The learning rate after every batch (x = epoch + fraction of it done), or per epoch when no batch was recorded. */
function lrSeries(history: History, rec: Recorded): LineSeries {
  if (rec.lrSteps.length === 0) return { name: 'learning rate per epoch', x: history.epoch.map((e) => e + 1), y: history.lr };
  const batches = new Map<number, number>();
  for (const [e, b] of rec.lrSteps) batches.set(e, Math.max(batches.get(e) ?? 0, b + 1));
  const every = Math.max(1, Math.ceil(rec.lrSteps.length / 1000));
  const pts = rec.lrSteps.filter((_, i) => i % every === 0 || i === rec.lrSteps.length - 1);
  return { name: 'learning rate per step', x: pts.map(([e, b]) => e + (b + 1) / (batches.get(e) ?? 1)), y: pts.map((p) => p[2]), dots: false };
}

/** A short text for an option value in the settings table. */
function optionText(v: unknown): string {
  if (typeof v === 'function') return v.name ? `function ${v.name}` : 'a function';
  if (v instanceof Tensor) return `Tensor [${v.shape.join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const ctor = (v as object).constructor?.name;
    if (ctor && ctor !== 'Object' && ctor !== 'Array') return `${ctor}`;
    try {
      return JSON.stringify(v, (_k, x) => (typeof x === 'function' ? 'function' : x));
    } catch {
      return String(v);
    }
  }
  return String(v);
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux: os.cpus() below
  }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}

/** x86 family and model numbers from /proc/cpuinfo ('family 25 model 17'), or ''. */
function cpuFamily(): string {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const fam = /^cpu family\s*:\s*(\d+)$/m.exec(text);
    const mod = /^model\s*:\s*(\d+)$/m.exec(text);
    return fam && mod ? `family ${fam[1]} model ${mod[1]}` : '';
  } catch {
    return '';
  }
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 16px auto; max-width: 1240px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 17px; margin: 14px 0 8px 0; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #555; margin-top: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-start; }
figure { margin: 0; }
table { border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; padding: 3px 12px 3px 0; vertical-align: top; }
th { font-weight: 600; color: #444; white-space: nowrap; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 13px; }
.note { color: #555; }
.warning { color: #b00020; }
.cols { display: flex; flex-wrap: wrap; gap: 32px; }
`;

/** The loss fit picks when none is given: crossEntropy for integer labels, mse for float targets. */
function defaultLossOf(input: ReportInput): string {
  if (isDataset(input.data)) return 'default for the targets';
  try {
    return prepareData(input.data, 'fit').labels !== null ? 'crossEntropy' : 'mse';
  } catch {
    return 'default for the targets';
  }
}

/** The report's HTML text. */
export function reportHtml(input: ReportInput): string {
  const { history, rec, options, settings, model } = input;
  const ctx = rec.ctx;
  const lossName = typeof options.loss === 'string' ? options.loss : options.loss === undefined ? defaultLossOf(input) : 'custom';
  const evaluation = evaluationSection(input);
  const last = (a: readonly number[]): number | undefined => (a.length > 0 ? a[a.length - 1] : undefined);
  const bestVal = history.valLoss.length > 0 ? history.valLoss.indexOf(Math.min(...history.valLoss)) : -1;
  const results: [string, string][] = [
    ['epochs run', `${history.epoch.length}${ctx ? ` (epochs ${ctx.initialEpoch + 1} to ${ctx.epochs} requested)` : ''}`],
    ['final training loss', fmtNum(last(history.loss))],
  ];
  if (history.valLoss.length > 0) results.push(['final validation loss', fmtNum(last(history.valLoss))], ['best validation loss', `${fmtNum(history.valLoss[bestVal])} (epoch ${history.epoch[bestVal] + 1})`]);
  if (history.accuracy.length > 0) results.push(['final training accuracy', `${((last(history.accuracy) ?? 0) * 100).toFixed(2)}%`]);
  if (history.valAccuracy.length > 0) results.push(['final validation accuracy', `${((last(history.valAccuracy) ?? 0) * 100).toFixed(2)}%`]);
  results.push(...evaluation.summary);
  results.push(['stopped because', history.stopReason ?? 'all epochs ran']);

  const paramCount = model.parameters().reduce((s, p) => s + p.size, 0);
  const hasSummary = typeof (model as { toString?: unknown }).toString === 'function' && (model as object).toString !== Object.prototype.toString;
  const summary = hasSummary ? String(model) : `${(model as object).constructor?.name ?? 'model'}: ${paramCount.toLocaleString('en-US')} parameters`;

  const dataRows: [string, string][] = [];
  if (settings.dataName) dataRows.push(['data', settings.dataName]);
  if (isDataset(input.data)) dataRows.push(['source', 'a data.Dataset (streamed)']);
  else {
    try {
      const d = prepareData(input.data, 'fit');
      dataRows.push(['rows', d.n.toLocaleString('en-US')]);
      dataRows.push(['input row shape', d.inputs ? d.inputs.map((i) => `${i.name} [${i.rowShape.join(',')}]`).join(', ') : `[${d.rowShape.join(',')}]`]);
      if (d.labels !== null) {
        let k = 0;
        for (const l of d.labels) k = Math.max(k, l + 1);
        dataRows.push(['task', `classification: integer labels, ${k} classes`]);
      } else dataRows.push(['task', `regression: ${d.targetSize} float target${d.targetSize === 1 ? '' : 's'} per row`]);
    } catch {
      // fit accepted the data; a shape this summary does not know is left out
    }
  }
  if (ctx) dataRows.push(['training rows per epoch', ctx.samples.toLocaleString('en-US')]);
  if (options.validationSplit !== undefined) dataRows.push(['validation', `validationSplit ${options.validationSplit} (the last rows, before shuffling)`]);
  else if (options.validationData !== undefined) dataRows.push(['validation', isDataset(options.validationData) ? 'validationData: a data.Dataset' : `validationData: ${prepareData(options.validationData as FitData, 'fit', 'validationData').n} rows`]);
  else dataRows.push(['validation', 'none']);
  for (const n of settings.notes ?? []) dataRows.push(['note', n]);

  const settingRows: [string, string][] = [];
  if (ctx) {
    settingRows.push(['epochs', String(ctx.epochs)], ['batch size', String(ctx.batchSize)], ['batches per epoch', String(ctx.stepsPerEpoch)]);
    settingRows.push(['optimizer', typeof options.optimizer === 'string' ? options.optimizer : options.optimizer === undefined ? 'adam (the default)' : (ctx.optimizer as object).constructor?.name ?? 'custom']);
    settingRows.push(['initial learning rate', fmtNum(history.lr[0] ?? ctx.optimizer.lr)]);
    settingRows.push(['shuffle seed', String(ctx.seed)]);
  }
  settingRows.push(['loss', lossName]);
  const skip = new Set(['epochs', 'batchSize', 'optimizer', 'seed', 'loss', 'callbacks', 'output', 'verbose', 'history', 'validationData', 'validationSplit', 'signal', 'onEpochEnd', 'onBatchEnd', 'report']);
  for (const [k, v] of Object.entries(options)) if (!skip.has(k) && v !== undefined) settingRows.push([k, optionText(v)]);
  const cbs = options.callbacks === undefined ? [] : (Array.isArray(options.callbacks) ? options.callbacks : [options.callbacks]);
  const userCbs = cbs.length;
  if (userCbs > 0) settingRows.push(['callbacks', `${userCbs}: ${cbs.map((c) => optionText(c)).join(', ')}`]);

  const backend = info();
  const machine: [string, string][] = [
    ['CPU', `${cpuModel()}${cpuFamily() ? ` (${cpuFamily()})` : ''}, ${os.cpus().length} logical cores`],
    ['memory', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['system', `${os.type()} ${os.release()} ${os.arch()}`],
    ['Node.js', process.version],
    ['myelin', `${backend.version}, ${backend.backend} backend${'simd' in backend ? ` (${String((backend as { simd?: unknown }).simd)})` : ''}${'threads' in backend ? `, ${String((backend as { threads?: unknown }).threads)} threads` : ''}`],
  ];
  const trainSeconds = history.seconds.reduce((s, v) => s + v, 0);
  const time: [string, string][] = [
    ['started', rec.startedAt.toISOString()],
    ['finished', input.finished.toISOString()],
    ['time taken', `${input.seconds.toFixed(2)} s in fit (${trainSeconds.toFixed(2)} s in the epochs)`],
  ];
  if (ctx && trainSeconds > 0) time.push(['speed', `${Math.round((ctx.samples * history.epoch.length) / trainSeconds).toLocaleString('en-US')} training rows/s`]);

  const title = settings.title ?? 'Training report';
  const warnings = history.warnings.map((w) => `<p class="warning">${escapeXml(`epoch ${w.epoch + 1}: ${w.message}`)}</p>`).join('\n');
  const kindTitle = evaluation.kind === 'classification' ? 'Confusion matrix' : evaluation.kind === 'regression' ? 'Predicted vs true' : 'Evaluation';
  // The loss, the first metric and the confusion matrix / scatter first (they fill the first screen), then the rest.
  const curves = curveCharts(history, rec, lossName);
  const charts = evaluation.svg === null ? curves : [...curves.slice(0, 2), evaluation.svg, ...curves.slice(2)];
  const headline = [
    history.valAccuracy.length > 0 ? `validation accuracy ${((last(history.valAccuracy) ?? 0) * 100).toFixed(2)}%` : null,
    history.valLoss.length > 0 ? `validation loss ${fmtNum(last(history.valLoss))}` : `training loss ${fmtNum(last(history.loss))}`,
    `${history.epoch.length} epochs`, `${input.seconds.toFixed(1)} s`, cpuModel(),
  ].filter((v) => v !== null).join(' · ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="myelin ${escapeXml(backend.version)}">
<title>${escapeXml(title)}</title>
<style>${STYLE}</style>
</head>
<body data-report-kind="${evaluation.kind}">
<h1>${escapeXml(title)}</h1>
<p class="sub">${escapeXml(`${input.finished.toISOString().slice(0, 19).replace('T', ' ')} UTC · ${headline}`)}</p>
<section id="curves"><h2>Training curves and ${kindTitle.toLowerCase()}</h2>
<div class="charts">
${charts.map((c) => `<figure>${c}</figure>`).join('\n')}
</div>
</section>
<section id="results"><h2>Results</h2>
${table(results, 'results-table')}
${warnings}
<div id="evaluation">${evaluation.html}</div>
</section>
<section id="model"><h2>Model</h2>
<pre>${escapeXml(summary)}</pre>
</section>
<div class="cols">
<section id="data"><h2>Data</h2>
${table(dataRows, 'data-table')}
</section>
<section id="settings"><h2>Settings</h2>
${table(settingRows, 'settings-table')}
</section>
<section id="machine"><h2>Machine and time</h2>
${table([...machine, ...time], 'machine-table')}
</section>
</div>
</body>
</html>
`;
}
