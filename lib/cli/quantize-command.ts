// `myelin quantize --model dir --dtype int8|bf16 [--calibration file] --output qdir`: a saved model computing in int8 or bf16.
import { Command } from 'commander';
import { loadWithInfo, save } from '../io/model-file';
import { Sequential } from '../nn/sequential';
import { Tensor } from '../tensor';
import { quantize, type QuantDtype } from '../quant';
import { csvBatches, idxBatches, isIdxPath, type RowBatch } from '../batch/sources';
import type { CsvOptions } from '../data/csv';
import { UsageError, CsvCliOptions, addCsvOptions, choiceParser, csvOptionsOf, positiveIntParser } from './args';

/** The options of `myelin quantize`. */
export interface QuantizeCommandOptions extends CsvCliOptions {
  model: string;
  dtype: QuantDtype;
  calibration?: string;
  calibrationRows: number;
  output: string;
}

/** Rows the calibration reads by default (the first ones of the file). */
export const DEFAULT_CALIBRATION_ROWS = 1024;

/**
 * The first `limit` rows of a calibration file (CSV, or IDX images) as the model's inputs before its preprocessor:
 * an image model's recorded pixel scale (metadata inputScale, e.g. 1/255) applied, as `myelin predict` does.
 */
async function readCalibration(file: string, features: number, scale: number, limit: number, csv: CsvOptions): Promise<Float32Array> {
  const source: AsyncGenerator<RowBatch> = isIdxPath(file) ? idxBatches(file, limit) : csvBatches(file, { ...csv, batchSize: limit });
  const parts: Float32Array[] = [];
  let rows = 0;
  for await (const b of source) {
    if (b.features !== features) {
      const hint = b.features === features + 1 ? ' (does it have a label column? pass --label-column)' : '';
      throw new Error(`quantize: ${file}: rows have ${b.features} values, the model expects ${features}${hint}`);
    }
    const take = Math.min(b.rows, limit - rows);
    parts.push(b.x.subarray(0, take * features));
    rows += take;
    if (rows >= limit) break;
  }
  if (rows === 0) throw new Error(`quantize: ${file}: no calibration rows`);
  const x = new Float32Array(rows * features);
  let at = 0;
  for (const p of parts) {
    x.set(p, at);
    at += p.length;
  }
  if (scale !== 1) for (let i = 0; i < x.length; i++) x[i] *= scale;
  return x;
}

/** Loads the model directory, quantises it and saves the result (same input shape, metadata and preprocessing). */
export async function runQuantize(opts: QuantizeCommandOptions): Promise<void> {
  if (opts.calibration !== undefined && opts.dtype !== 'int8') throw new UsageError(`--calibration applies to --dtype int8 only, got --dtype ${opts.dtype}`);
  const { model, info } = loadWithInfo(opts.model);
  if (!(model instanceof Sequential)) throw new Error(`quantize: ${opts.model} holds a ${info.architecture.type}; quantize takes a Sequential model of Linear layers`);
  let calibration: Tensor | undefined;
  if (opts.calibration !== undefined) {
    const features = info.inputShape !== null ? info.inputShape.reduce((a, b) => a * b, 1) : model.inputFeatures();
    if (features === null) throw new Error(`quantize: ${opts.model} records no input shape, so the width of a calibration row is unknown`);
    const prep = info.preprocessing;
    const scale = prep === null && typeof info.metadata.inputScale === 'number' ? info.metadata.inputScale : 1;
    const csv: CsvOptions = { ...csvOptionsOf(opts, null) };
    if (prep?.csv?.columns != null) csv.expectColumns = prep.csv.columns;
    if (prep?.csv != null && Object.keys(prep.csv.categories).length > 0) csv.categories = prep.csv.categories;
    if (prep?.csv?.labelName != null && opts.labelColumn === undefined) csv.ignoreColumns = [prep.csv.labelName];
    if (prep?.fill != null) csv.missing = 'keep';
    const x = await readCalibration(opts.calibration, features, scale, opts.calibrationRows, csv);
    calibration = new Tensor(x, [x.length / features, features]);
  }
  const q = quantize(model, { dtype: opts.dtype, ...(calibration !== undefined ? { calibration } : {}) });
  save(q, opts.output, {
    ...(info.inputShape !== null ? { inputShape: info.inputShape } : {}),
    metadata: { ...info.metadata, quantized: opts.dtype, calibrationRows: calibration === undefined ? 0 : calibration.shape[0] },
  });
  const how = calibration === undefined ? (opts.dtype === 'int8' ? ' (dynamic input scales)' : '') : ` (input scales calibrated on ${calibration.shape[0]} rows of ${opts.calibration})`;
  process.stderr.write(`quantized ${opts.model} to ${opts.dtype}${how} into ${opts.output}\n`);
}

/** Registers `myelin quantize` on the program. */
export function registerQuantize(program: Command): void {
  const cmd = program
    .command('quantize')
    .description('convert a saved model of Linear layers to int8 or bf16 inference (a new model directory)')
    .requiredOption('--model <dir>', 'saved model directory (a Sequential of Linear layers and activations)')
    .requiredOption('--dtype <type>', 'int8 (per-channel weight scales) or bf16', choiceParser('--dtype', ['int8', 'bf16'] as const))
    .requiredOption('--output <dir>', 'directory for the quantised model')
    .option('--calibration <file>', 'int8: rows (CSV, or IDX images) to calibrate static input scales on; without it each row is scaled on the fly')
    .option('--calibration-rows <n>', 'how many rows of the calibration file to use (the first ones)', positiveIntParser('--calibration-rows'), DEFAULT_CALIBRATION_ROWS)
    .option('--label-column <name|index>', 'CSV column to ignore (e.g. the label of a training file)')
    .option('--delimiter <char>', 'CSV delimiter (default: detected)');
  addCsvOptions(cmd).action(async (opts: QuantizeCommandOptions) => runQuantize(opts));
}
