// Damaged ONNX files without the integrity digest (as other exporters write them): every corrupted file is refused
// with a clear message, or loads a model that reads the damaged file exactly as the reference runtime does.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it, afterAll } from 'vitest';
import { Tensor } from '../lib/tensor';
import * as ops from '../lib/ops';
import { Module, Sequential, Linear, ReLU, Softmax, LayerNorm, type LayerConfig } from '../lib/nn';
import { fromOnnxBytes } from '../lib/io/onnx';
import { traceToOnnx } from '../lib/io/onnx/trace';
import { SeededRandom } from '../lib/data/split';
import { freshSeed, uniform, tempDir, ort } from './helpers/onnx';

const seed = freshSeed();
const msg = `seed ${seed}`;
const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** A residual block with two consumers of its input and a concat: read back as an nn.Graph. */
class Block extends Module {
  readonly fc = this.registerModule('fc', new Linear(8, 8));
  readonly norm = this.registerModule('norm', new LayerNorm(8));
  readonly head = this.registerModule('head', new Linear(16, 4));
  override forward(x: Tensor): Tensor {
    const h = ops.add(x, ops.relu(this.fc.forward(this.norm.forward(x))));
    return this.head.forward(ops.concat([h, ops.mul(x, h)], 1));
  }
  override toConfig(): LayerConfig { return { type: 'Block' }; }
  override describe(): string { return 'Block'; }
}

/** True when a and b are the same numbers (NaN where NaN, the same infinities) to float32 tolerance. */
function agree(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(x) || Number.isNaN(y) || !Number.isFinite(x) || !Number.isFinite(y)) {
      if (!Object.is(x, y) && !(Number.isNaN(x) && Number.isNaN(y))) return false;
    } else if (Math.abs(x - y) > 1e-5 + 1e-4 * Math.abs(y)) {
      return false;
    }
  }
  return true;
}

/** onnxruntime's outputs for the file, or null when it refuses the file. */
async function ortOutputs(bytes: Uint8Array, x: Tensor): Promise<Float32Array | null> {
  const file = path.join(dir, 'damaged.onnx');
  fs.writeFileSync(file, bytes);
  try {
    const session = await ort.InferenceSession.create(file, { logSeverityLevel: 4 });
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape.slice()) });
    return (out[session.outputNames[0]] as { data: Float32Array }).data;
  } catch {
    return null;
  }
}

describe('random multi-bit damage without a digest', () => {
  const cases: [string, () => Module][] = [
    ['a chain (Sequential)', () => new Sequential([new Linear(8, 16), new ReLU(), new Linear(16, 4), new Softmax()], { seed })],
    ['a residual DAG (nn.Graph)', () => new Block()],
  ];
  for (const [what, make] of cases) {
    // The criterion, per damaged file (1 to 4 bit flips within 8 bytes, 300 files):
    //  - refused: an Error whose message names the file and says why ("onnx.importModel: 'damaged.onnx': ..."); or
    //  - loaded, and the flipped bytes were harmless: outputs bit-identical to the undamaged model's; or
    //  - loaded, and the damage changed a value (a weight, an epsilon): onnxruntime, reading the same damaged file,
    //    gives the same outputs (NaN and infinities included). A value flip cannot be detected without a digest,
    //    but it must be read as written: a misread structure, attribute or layout matches neither model and fails.
    it(`${what}: every corrupted file is refused clearly or read exactly as onnxruntime reads it`, async () => {
      const rng = new SeededRandom(seed);
      const model = make();
      for (const p of model.parameters()) p.data.set(uniform(p.size, rng, -0.8, 0.8));
      const x = new Tensor(uniform(3 * 8, rng, -2, 2), [3, 8]);
      const good = Buffer.from(traceToOnnx(model, x, { opset: 17, inputName: 'input', outputName: 'output', producerVersion: 'test' }));
      const want = model.predict(x).data;
      const back = fromOnnxBytes(good, 'damaged.onnx');
      expect(agree(back.predict(x).data, want), 'the undamaged file reads back').toBe(true);
      const counts = { refused: 0, harmless: 0, valueDamage: 0 };
      for (let trial = 0; trial < 300; trial++) {
        const bytes = Buffer.from(good);
        const flips = 1 + (trial % 4);
        const centre = Math.floor(good.length * rng.next());
        for (let f = 0; f < flips; f++) {
          const at = Math.min(good.length - 1, centre + Math.floor(rng.next() * 8));
          bytes[at] ^= 1 << Math.floor(rng.next() * 8);
        }
        if (bytes.equals(good)) continue;
        const where = `${msg}, trial ${trial} (bytes ${centre}..${centre + 8} of ${good.length})`;
        let loaded: Module;
        try {
          loaded = fromOnnxBytes(bytes, 'damaged.onnx');
        } catch (err) {
          expect(err, where).toBeInstanceOf(Error);
          expect((err as Error).message, where).toMatch(/^onnx\.importModel: 'damaged\.onnx': \S.{8,}/);
          counts.refused++;
          continue;
        }
        let got: Float32Array;
        try {
          got = loaded.predict(x).data;
        } catch (err) {
          throw new Error(`${where}: the model loaded but does not run: ${(err as Error).message}`);
        }
        if (agree(got, want) && got.every((v, i) => Object.is(v, want[i]))) {
          counts.harmless++;
          continue;
        }
        const reference = await ortOutputs(bytes, x);
        expect(reference, `${where}: myelin loaded a file onnxruntime refuses, with changed outputs`).not.toBeNull();
        expect(agree(got, reference as Float32Array), `${where}: myelin reads the damaged file differently from onnxruntime`).toBe(true);
        counts.valueDamage++;
      }
      expect(counts.refused, msg).toBeGreaterThan(0);
      console.log(`ONNX damage without digest, ${what}: ${JSON.stringify(counts)} (${msg})`);
    }, 120_000);
  }
});
