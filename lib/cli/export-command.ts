// `myelin export --model dir --onnx file.onnx`: converts a saved model to ONNX via lib/io/onnx.
import { Command } from 'commander';
import { loadWithInfo } from '../io/model-file';
import { Module, Sequential, Linear, Flatten, fromConfig } from '../nn';
import { exportModel, MIN_EXPORT_OPSET, MAX_EXPORT_OPSET } from '../io/onnx';
import { UsageError, positiveIntParser } from './args';

interface ExportCommandOptions {
  model: string;
  onnx?: string;
  opset?: number;
}

/** Loads the model directory and writes an ONNX file (batch dimension dynamic). */
export async function runExport(opts: ExportCommandOptions): Promise<void> {
  if (opts.onnx === undefined) throw new UsageError('export: choose an output format: --onnx <file.onnx>');
  if (opts.opset !== undefined && (opts.opset < MIN_EXPORT_OPSET || opts.opset > MAX_EXPORT_OPSET)) {
    throw new UsageError(`--opset must be an integer from ${MIN_EXPORT_OPSET} to ${MAX_EXPORT_OPSET}, got '${opts.opset}'`);
  }
  const { model: loaded, info } = loadWithInfo(opts.model);
  const model = foldPreprocessing(loaded);
  if (loaded.preprocessor?.fill != null) {
    process.stderr.write('note: the ONNX model has the scaling folded in, but not the missing-value fill: its inputs must not be NaN\n');
  }
  await exportModel(model, opts.onnx, {
    ...(info.inputShape !== null ? { inputShape: [1, ...info.inputShape] } : {}),
    ...(opts.opset !== undefined ? { opset: opts.opset } : {}),
  });
  process.stderr.write(`exported ${opts.model} to ${opts.onnx}\n`);
}

/**
 * A copy of the model with its preprocessor's scaling folded into the weights, so a format without
 * preprocessing (ONNX) computes what predict() does: the input standardisation into the first Linear
 * (w' = w / std, b' = b - w . mean / std) and a regression target scaling into the last
 * (w' = w * std, b' = b * std + mean). The model itself is returned when it has no scaling.
 */
export function foldPreprocessing(model: Module): Module {
  const prep = model.preprocessor;
  if (prep === null || (prep.input === null && prep.target === null)) return model;
  const copy = fromConfig(model.toConfig());
  copy.loadStateDict(model.stateDict());
  const layers = copy instanceof Sequential ? copy.layers : [copy];
  const cannot = (why: string): never => {
    throw new Error(`export: the model's preprocessing cannot be folded into its weights (${why}); export a model trained without it (myelin train --no-standardize)`);
  };
  if (prep.input !== null) {
    const first = layers.findIndex((l) => !(l instanceof Flatten));
    const lin = layers[first];
    if (!(lin instanceof Linear)) cannot('the first layer after Flatten is not a Linear');
    const { mean, std, per } = prep.input;
    const w = (lin as Linear).weight.data;
    const inF = (lin as Linear).inFeatures;
    const bias = (lin as Linear).bias;
    if (bias === null && mean.some((m) => m !== 0)) cannot('the first Linear has no bias to absorb the mean');
    for (let o = 0; o < (lin as Linear).outFeatures; o++) {
      let shift = 0;
      for (let i = 0; i < inF; i++) {
        const c = per === 'feature' ? i : 0;
        const v = w[o * inF + i];
        shift += (v * mean[c]) / std[c];
        w[o * inF + i] = v / std[c];
      }
      if (bias !== null) bias.data[o] -= shift;
    }
  }
  if (prep.target !== null) {
    const lin = layers[layers.length - 1];
    if (!(lin instanceof Linear)) cannot('the last layer is not a Linear');
    const { mean, std } = prep.target;
    const l = lin as Linear;
    if (l.bias === null) cannot('the last Linear has no bias to absorb the target mean');
    if (mean.length !== l.outFeatures) cannot(`${mean.length} target columns for ${l.outFeatures} outputs`);
    for (let o = 0; o < l.outFeatures; o++) {
      for (let i = 0; i < l.inFeatures; i++) l.weight.data[o * l.inFeatures + i] *= std[o];
      l.bias!.data[o] = l.bias!.data[o] * std[o] + mean[o];
    }
  }
  copy.eval();
  return copy;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a saved model to another format (ONNX)')
    .requiredOption('--model <dir>', 'saved model directory (from myelin train or save())')
    .option('--onnx <file>', 'write an ONNX model to this file')
    .option('--opset <n>', `ONNX opset version (${MIN_EXPORT_OPSET}..${MAX_EXPORT_OPSET}, default 13)`, positiveIntParser('--opset'))
    .action(async (opts: ExportCommandOptions) => runExport(opts));
}
