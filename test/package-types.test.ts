// The declarations that ship in dist/ (pruned to those reachable from dist/index.d.ts by scripts/prune-dts.js)
// are complete: a TypeScript consumer that imports myelin type-checks with skipLibCheck off.
import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { ensureDist } from './helpers/dist';

const root = path.resolve(__dirname, '..');

describe('shipped type declarations', () => {
  beforeAll(() => ensureDist(), 300_000);

  it('a consumer using the public API type-checks against dist/index.d.ts with skipLibCheck: false', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-types-'));
    try {
      const file = path.join(dir, 'consumer.ts');
      fs.writeFileSync(file, `
import { nn, data, fit, evaluate, tensor, onnx, Tensor, generate, predictFile, Trainer, type History } from ${JSON.stringify(path.join(root, 'dist', 'index'))};
async function main(): Promise<void> {
  const d = data.loadDigits({ seed: 1 });
  const model = new nn.Sequential(new nn.Linear(64, 10), { seed: 1 });
  const h: History = await fit(model, d.train, { epochs: 1 });
  const r = evaluate(model, d.test);
  const t: Tensor = tensor([1, 2, 3]);
  await onnx.exportModel(model, 'm.onnx');
  // The cache the public cached-forward methods take is a public type too.
  const attention = new nn.MultiheadAttention(8, 2, { batchFirst: true });
  const cache: nn.AttentionCache = { key: null, value: null, length: 0 };
  void [h, r, t, generate, predictFile, Trainer, attention, cache];
}
void main;
`);
      const program = ts.createProgram([file], {
        strict: true, noEmit: true, skipLibCheck: false, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')], esModuleInterop: true,
      });
      const diags = ts.getPreEmitDiagnostics(program).map((d) => {
        const where = d.file ? `${path.relative(root, d.file.fileName)}: ` : '';
        return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
      });
      expect(diags).toEqual([]);
      // The check saw the shipped declarations (not the TypeScript sources).
      expect(program.getSourceFiles().some((f) => f.fileName.endsWith(path.join('dist', 'index.d.ts')))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
