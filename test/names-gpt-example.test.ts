// examples/names-gpt.js (needs the first-names corpus from npm): a short run trains, reports the validation loss,
// saves, reloads and generates names; its ONNX export runs in onnxruntime-node with the model's logits (1e-5).
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensureDist } from './helpers/dist';
import { load } from '../lib/io/model-file';
import { Tensor } from '../lib/tensor';
import { IntTensor } from '../lib/int-tensor';
import { noGrad } from '../lib/autograd';
import { maxViolation, runOrt } from './helpers/onnx';

const root = path.join(__dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-names-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('examples/names-gpt.js', () => {
  it('trains 30 steps, saves, generates ten names, exports ONNX that onnxruntime runs with the same logits', async () => {
    ensureDist();
    const out = path.join(dir, 'model');
    const onnxFile = path.join(dir, 'names.onnx');
    const r = spawnSync(process.execPath, [path.join(root, 'examples', 'names-gpt.js'), '--steps', '30', '--out', out, '--onnx', onnxFile], {
      cwd: root, encoding: 'utf8', timeout: 300_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const val = Number(/validation loss: ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(val, r.stdout).toBeLessThan(Math.log(29)); // better than uniform over the 29 symbols
    const names = /generated names: (.*)/.exec(r.stdout)?.[1].split(', ') ?? [];
    expect(names, r.stdout).toHaveLength(10);
    expect(r.stdout).toContain('exported');

    const model = load(out);
    const ids = Int32Array.from({ length: 3 * 16 }, (_, i) => (i * 7 + 3) % 29);
    const logits = noGrad(() => model.forward(new IntTensor(ids, [3, 16]) as never) as Tensor);
    const ort = await runOrt(onnxFile, Float32Array.from(ids), [3, 16]);
    expect(ort.dims).toEqual([3, 16, 29]);
    expect(maxViolation(ort.data, logits.data, 1e-5, 1e-5).excess).toBeLessThanOrEqual(0);
  }, 320_000);

  it('--precision bf16 trains in mixed precision: its own loss (the products rounded), better than uniform; bad values are errors', () => {
    ensureDist();
    const run = (...extra: string[]) => spawnSync(process.execPath, [path.join(root, 'examples', 'names-gpt.js'), '--steps', '20', '--out', path.join(dir, `m${extra.join('')}`), ...extra], {
      cwd: root, encoding: 'utf8', timeout: 300_000,
    });
    const lossOf = (r: ReturnType<typeof run>) => Number(/validation loss: ([\d.]+)/.exec(r.stdout)?.[1]);
    const fp32 = run();
    const bf16 = run('--precision', 'bf16');
    expect(fp32.status, fp32.stderr).toBe(0);
    expect(bf16.status, bf16.stderr).toBe(0);
    expect(lossOf(bf16), bf16.stdout).toBeLessThan(Math.log(29));
    expect(Math.abs(lossOf(bf16) - lossOf(fp32))).toBeLessThan(0.1);
    // Same seed and batches: only the bf16 rounding of the products can make the trained weights differ.
    const weights = (tag: string) => load(path.join(dir, `m${tag}`)).parameters().map((p) => Float32Array.from(p.data));
    const w32 = weights('');
    const w16 = weights('--precisionbf16');
    expect(w16.length).toBe(w32.length);
    expect(w16.some((w, i) => w.some((v, j) => v !== w32[i][j]))).toBe(true);
    const bad = run('--precision', 'fp16');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--precision must be 'fp32' or 'bf16', got 'fp16'/);
  }, 320_000);
});
