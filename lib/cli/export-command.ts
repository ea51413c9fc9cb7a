// `myelin export --model dir --onnx file.onnx`: converts a saved model to ONNX via lib/io/onnx.
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { load } from '../io/model-file';
import { UsageError, positiveIntParser } from './args';

interface ExportOptions {
  model: string;
  onnx?: string;
  opset?: number;
}

/** The part of lib/io/onnx the CLI uses. */
interface OnnxExporter {
  exportModel(model: unknown, file: string, opts?: { inputShape?: number[]; opset?: number }): unknown;
}

function onnxModule(): OnnxExporter {
  const dir = path.join(__dirname, '..', 'io', 'onnx');
  if (!fs.existsSync(path.join(dir, 'index.js')) && !fs.existsSync(path.join(dir, 'index.ts'))) {
    throw new Error('export: ONNX support is not available in this build (lib/io/onnx missing)');
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('../io/onnx') as Partial<OnnxExporter>;
  if (typeof mod.exportModel !== 'function') throw new Error('export: lib/io/onnx does not provide exportModel');
  return mod as OnnxExporter;
}

/** Loads the model directory and writes an ONNX file. */
export async function runExport(opts: ExportOptions): Promise<void> {
  if (opts.onnx === undefined) throw new UsageError("export: choose an output format: --onnx <file.onnx>");
  const { model, manifest } = loadWithManifest(opts.model);
  const inputShape = manifest.inputShape ?? undefined;
  const exporter = onnxModule();
  await exporter.exportModel(model, opts.onnx, {
    ...(inputShape !== undefined ? { inputShape: [1, ...inputShape] } : {}),
    ...(opts.opset !== undefined ? { opset: opts.opset } : {}),
  });
  process.stderr.write(`exported ${opts.model} to ${opts.onnx}\n`);
}

function loadWithManifest(dir: string): { model: unknown; manifest: { inputShape: number[] | null } } {
  const model = load(dir);
  return { model, manifest: { inputShape: (model as { inputShape?: number[] | null }).inputShape ?? readInputShape(dir) } };
}

function readInputShape(dir: string): number[] | null {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { inputShape?: unknown };
    return Array.isArray(m.inputShape) ? (m.inputShape as number[]) : null;
  } catch {
    return null;
  }
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a saved model to another format (ONNX)')
    .requiredOption('--model <dir>', 'saved model directory (from myelin train or save())')
    .option('--onnx <file>', 'write an ONNX model to this file')
    .option('--opset <n>', 'ONNX opset version', positiveIntParser('--opset'))
    .action(async (opts: ExportOptions) => runExport(opts));
}
