// `myelin export --model dir --onnx file.onnx`: converts a saved model to ONNX via lib/io/onnx.
import { Command } from 'commander';
import { loadWithInfo } from '../io/model-file';
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
  const { model, info } = loadWithInfo(opts.model);
  await exportModel(model, opts.onnx, {
    ...(info.inputShape !== null ? { inputShape: [1, ...info.inputShape] } : {}),
    ...(opts.opset !== undefined ? { opset: opts.opset } : {}),
  });
  process.stderr.write(`exported ${opts.model} to ${opts.onnx}\n`);
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
