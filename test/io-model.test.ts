// save/load/loadCheckpoint: round trips, model.json contents, validation of damaged directories, crash safety under SIGKILL.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { spawn, spawnSync } from 'child_process';
import { Tensor, randn } from '../lib/tensor';
import { Sequential, Linear, ReLU, LeakyReLU, GELU, Tanh, Sigmoid, Dropout, Flatten, Softmax, Module } from '../lib/nn';
import { Adam } from '../lib/optim';
import { crossEntropy } from '../lib/nn';
import { save, load, loadCheckpoint, readModelInfo } from '../lib/io/model-file';
import { encodeSafetensorsBuffer, decodeSafetensors, NamedArray } from '../lib/io/safetensors';
import { manifestDigest } from '../lib/io/model-dir';
import { ensureDist, ROOT } from './helpers/dist';

const seed = (Date.now() ^ (process.pid << 10)) >>> 0;
const note = (msg: string): string => `${msg} (seed ${seed})`;

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-model-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });
let counter = 0;
const fresh = (): string => path.join(dir, `m${counter++}`);

function mlp(s: number): Sequential {
  return new Sequential(
    new Flatten(), new Linear(12, 16, { seed: s }), new ReLU(), new Dropout(0.3),
    new Linear(16, 8, { seed: s + 1 }), new LeakyReLU(0.2), new Linear(8, 8, { seed: s + 2, bias: false }),
    new GELU({ approximate: 'tanh' }), new Linear(8, 5, { seed: s + 3 }), new Tanh(), new Linear(5, 3, { seed: s + 4 }), new Sigmoid(), new Softmax(),
  );
}

function sameOutputs(a: Module, b: Module, x: Tensor): void {
  a.eval();
  b.eval();
  expect(Array.from(b.predict(x).data), note('outputs differ')).toEqual(Array.from(a.predict(x).data));
}

/** Rewrites model.json's digest of model.safetensors after a deliberate edit (to reach the deeper checks). */
function rewriteWeights(d: string, tensors: NamedArray[]): void {
  const buf = encodeSafetensorsBuffer(tensors);
  fs.writeFileSync(path.join(d, 'model.safetensors'), buf);
  fixDigest(d);
}
function fixDigest(d: string): void {
  const manifest = JSON.parse(fs.readFileSync(path.join(d, 'model.json'), 'utf8'));
  const bytes = fs.readFileSync(path.join(d, 'model.safetensors'));
  manifest.files.weights.bytes = bytes.length;
  manifest.files.weights.sha256 = createHash('sha256').update(bytes).digest('hex');
  writeSigned(d, manifest);
}
/** Writes an edited model.json with a matching digest (as a deliberate edit, not damage, would be). */
function writeSigned(d: string, manifest: Record<string, unknown>): void {
  fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...manifest, sha256: manifestDigest(manifest) }));
}
function weightsOf(d: string): NamedArray[] {
  const { tensors } = decodeSafetensors(fs.readFileSync(path.join(d, 'model.safetensors')));
  return [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
}

describe('save / load', () => {
  it('round-trips every layer type exactly', () => {
    const model = mlp(seed % 1000);
    const d = fresh();
    save(model, d);
    const back = load(d);
    expect(back.toConfig()).toEqual(model.toConfig());
    expect(back.training).toBe(false);
    sameOutputs(model, back, randn([7, 3, 4], { seed }));
    expect(fs.readdirSync(d).sort()).toEqual(['model.json', 'model.safetensors']);
  });

  it('writes model.json with format, versions, architecture and input shape; weights named as namedParameters', () => {
    const model = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
    const d = fresh();
    save(model, d, { metadata: { task: 'classification', classNames: ['a', 'b'] } });
    const info = readModelInfo(d);
    expect(info.formatVersion).toBe(2);
    expect(info.myelinVersion).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
    expect(info.architecture).toEqual(model.toConfig());
    expect(info.inputShape).toEqual([4]);
    expect(info.metadata).toEqual({ task: 'classification', classNames: ['a', 'b'] });
    expect(info.isCheckpoint).toBe(false);
    const { tensors, metadata } = decodeSafetensors(fs.readFileSync(path.join(d, 'model.safetensors')));
    expect([...tensors.keys()]).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(tensors.get('0.weight')!.shape).toEqual([3, 4]);
    expect(metadata.format).toBe('pt');
  });

  it('overwrites an existing model and drops files the new save does not write', () => {
    const d = fresh();
    const a = new Sequential(new Linear(3, 2));
    const opt = new Adam(a.parameters());
    save(a, d, { optimizer: opt, epoch: 1 });
    expect(fs.existsSync(path.join(d, 'optimizer.safetensors'))).toBe(true);
    const b = new Sequential(new Linear(5, 4), new ReLU(), new Linear(4, 1));
    save(b, d);
    expect(fs.readdirSync(d).sort()).toEqual(['model.json', 'model.safetensors']);
    sameOutputs(b, load(d), randn([2, 5], { seed }));
  });

  it('saves and restores a checkpoint: optimizer state, epoch, history; training continues identically', () => {
    const x = randn([16, 6], { seed });
    const labels = Int32Array.from({ length: 16 }, (_, i) => i % 3);
    const step = (m: Module, o: Adam): void => {
      o.zeroGrad();
      crossEntropy(m.forward(x), labels).backward();
      o.step();
    };
    const model = new Sequential(new Linear(6, 8, { seed: 3 }), new Tanh(), new Linear(8, 3, { seed: 4 }));
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    for (let i = 0; i < 3; i++) step(model, opt);
    const d = fresh();
    save(model, d, { optimizer: opt, epoch: 3, history: { loss: [1, 0.5, 0.25] }, trainingState: { seed: 42 } });
    expect(fs.readdirSync(d).sort()).toEqual(['model.json', 'model.safetensors', 'optimizer.safetensors', 'training-state.json']);

    const ck = loadCheckpoint(d);
    expect(ck.epoch).toBe(3);
    expect(ck.history).toEqual({ loss: [1, 0.5, 0.25] });
    expect(ck.trainingState).toEqual({ seed: 42 });
    const opt2 = new Adam(ck.model.parameters(), { lr: 0.5 });
    opt2.loadStateDict(ck.optimizerState as Parameters<Adam['loadStateDict']>[0]);
    ck.model.train();
    for (let i = 0; i < 3; i++) {
      step(model, opt);
      step(ck.model, opt2);
    }
    for (const [name, p] of model.namedParameters()) {
      expect(Array.from(ck.model.stateDict()[name].data), name).toEqual(Array.from(p.data));
    }
  });

  it('a plain model directory loads as a checkpoint without optimizer state', () => {
    const d = fresh();
    save(new Sequential(new Linear(2, 2)), d);
    const ck = loadCheckpoint(d);
    expect(ck.optimizerState).toBeNull();
    expect(ck.history).toBeNull();
  });
});

describe('load rejects damaged model directories with clear errors', () => {
  const base = (): string => {
    const d = fresh();
    save(new Sequential(new Linear(4, 3, { seed: 1 }), new ReLU(), new Linear(3, 2, { seed: 2 })), d);
    return d;
  };

  it('missing directory, missing or broken model.json', () => {
    expect(() => load(path.join(dir, 'nope'))).toThrow(/model directory '.*nope' does not exist/);
    const d = base();
    fs.writeFileSync(path.join(d, 'model.json'), '{"format": "myelin-model", ');
    expect(() => load(d)).toThrow(/model\.json is not valid JSON/);
    fs.rmSync(path.join(d, 'model.json'));
    expect(() => load(d)).toThrow(/model\.json not found/);
    const f = path.join(dir, 'plain-file');
    fs.writeFileSync(f, 'x');
    expect(() => load(f)).toThrow(/is not a directory/);
  });

  it('wrong format or version, unknown layer type', () => {
    const d = base();
    const m = JSON.parse(fs.readFileSync(path.join(d, 'model.json'), 'utf8'));
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...m, formatVersion: 99 }));
    expect(() => load(d)).toThrow(/format version 99 is not supported/);
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...m, format: 'keras' }));
    expect(() => load(d)).toThrow(/format is "keras"/);
    const arch = { type: 'Sequential', layers: [{ type: 'Conv3d' }] };
    writeSigned(d, { ...m, architecture: arch });
    expect(() => load(d)).toThrow(/model\.json: architecture: .*unknown layer type 'Conv3d'/);
  });

  it('size or digest mismatch (truncated or replaced weights)', () => {
    const d = base();
    const file = path.join(d, 'model.safetensors');
    const good = fs.readFileSync(file);
    fs.writeFileSync(file, good.subarray(0, good.length - 4));
    expect(() => load(d)).toThrow(/model\.safetensors is \d+ bytes but model\.json records \d+/);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1] ^= 0x10;
    fs.writeFileSync(file, flipped);
    expect(() => load(d)).toThrow(/sha256 does not match model\.json/);
    // With verification off, a flipped weight bit is undetectable, but the model still loads.
    expect(load(d, { verify: false })).toBeInstanceOf(Module);
  });

  it('every truncation of the weights file fails cleanly (digest check on and off)', () => {
    const d = base();
    const file = path.join(d, 'model.safetensors');
    const good = fs.readFileSync(file);
    for (let len = 0; len < good.length; len++) {
      fs.writeFileSync(file, good.subarray(0, len));
      expect(() => load(d), `prefix ${len}`).toThrow(/model\.safetensors/);
      expect(() => load(d, { verify: false }), `prefix ${len}`).toThrow(/model\.safetensors/);
    }
  });

  it('bit flips in the safetensors header fail cleanly or load a consistent model', () => {
    const d = base();
    const file = path.join(d, 'model.safetensors');
    const good = fs.readFileSync(file);
    const n = Number(good.readBigUInt64LE(0));
    let state = seed;
    let failures = 0;
    for (let trial = 0; trial < 300; trial++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      const byte = state % (8 + n);
      const bit = (state >>> 20) % 8;
      const bad = Buffer.from(good);
      bad[byte] ^= 1 << bit;
      fs.writeFileSync(file, bad);
      expect(() => load(d), note(`flip byte ${byte} bit ${bit}`)).toThrow(/sha256 does not match/);
      try {
        const m = load(d, { verify: false });
        expect(m.namedParameters().length).toBe(4); // only flips that keep the header meaning intact load
      } catch (e) {
        expect(e, note(`flip byte ${byte} bit ${bit}`)).toBeInstanceOf(Error);
        expect((e as Error).message).toMatch(/model\.safetensors/);
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(150);
  });

  it('missing, extra and wrongly shaped tensors; wrong dtype', () => {
    const d = base();
    const w = weightsOf(d);
    rewriteWeights(d, w.filter((t) => t.name !== '2.bias'));
    expect(() => load(d)).toThrow(/model\.safetensors: missing tensor\(s\) '2\.bias' required by the architecture/);
    rewriteWeights(d, [...w, { name: '4.weight', shape: [1], data: new Float32Array(1) }]);
    expect(() => load(d)).toThrow(/unexpected tensor\(s\) '4\.weight' not in the architecture/);
    rewriteWeights(d, w.map((t) => (t.name === '0.weight' ? { ...t, shape: [4, 3] } : t)));
    expect(() => load(d)).toThrow(/tensor '0\.weight' has shape \[4,3\], the architecture needs \[3,4\]/);
    // Hand-made F64 header.
    // (Padded: a weights file smaller than the architecture's 23 float32s is refused before its header is read.)
    const json = Buffer.from(JSON.stringify({ '0.weight': { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }).padEnd(96));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(path.join(d, 'model.safetensors'), Buffer.concat([len, json, Buffer.alloc(8)]));
    fixDigest(d);
    expect(() => load(d)).toThrow(/tensor '0\.weight' has dtype F64; only F32 is supported/);
  });

  it('manifest paths cannot leave the directory', () => {
    const d = base();
    const m = JSON.parse(fs.readFileSync(path.join(d, 'model.json'), 'utf8'));
    m.files.weights.path = '../../etc/passwd';
    writeSigned(d, m);
    expect(() => load(d)).toThrow(/leaves the model directory/);
  });
});

describe('crash safety', () => {
  beforeAll(() => ensureDist());

  it('a save killed with SIGKILL at a random moment leaves the old or the new checkpoint, never a mix', async () => {
    const d = fresh();
    const script = path.join(dir, 'saver.js');
    fs.writeFileSync(script, `
      const { save } = require(${JSON.stringify(path.join(ROOT, 'dist', 'io', 'model-file.js'))});
      const nn = require(${JSON.stringify(path.join(ROOT, 'dist', 'nn', 'index.js'))});
      const { SGD } = require(${JSON.stringify(path.join(ROOT, 'dist', 'optim', 'index.js'))});
      const [dir, start] = [process.argv[2], Number(process.argv[3])];
      const model = new nn.Sequential(new nn.Linear(1024, 1024), new nn.ReLU(), new nn.Linear(1024, 256));
      const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
      for (const p of model.parameters()) p.grad = p.clone ? p.clone() : p;
      opt.step();
      for (let gen = start; ; gen++) {
        for (const p of model.parameters()) p.data.fill(gen);
        save(model, dir, { optimizer: opt, epoch: gen, history: { gen }, metadata: { gen } });
        process.stdout.write(gen + '\\n');
      }
    `);
    const { save: saveHere } = await import('../lib/io/model-file');
    const { SGD } = await import('../lib/optim');
    const model0 = new Sequential(new Linear(1024, 1024), new ReLU(), new Linear(1024, 256));
    for (const p of model0.parameters()) p.data.fill(0);
    saveHere(model0, d, { optimizer: new SGD(model0.parameters(), { lr: 0.1 }), epoch: 0, history: { gen: 0 }, metadata: { gen: 0 } });

    let committed = 0;
    let interrupted = 0;
    const rounds = 6;
    let rnd = seed;
    for (let round = 0; round < rounds; round++) {
      const child = spawn(process.execPath, [script, d, String(committed + 1)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
      // Wait for at least one completed save, then kill at a random moment of a later one.
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => {
          if (out.includes('\n')) { clearInterval(t); resolve(); }
          if (child.exitCode !== null) { clearInterval(t); reject(new Error(`saver exited: ${err}`)); }
        }, 5);
      });
      rnd = (Math.imul(rnd, 1664525) + 1013904223) >>> 0;
      await new Promise((r) => setTimeout(r, 20 + (rnd % 400)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const printed = out.trim().split('\n').map(Number);
      const lastDone = printed[printed.length - 1];
      if (fs.readdirSync(d).some((f) => f.startsWith('.'))) interrupted++;

      const ck = loadCheckpoint(d);
      const gen = ck.info.metadata.gen as number;
      const msg = note(`round ${round}: loaded gen ${gen}, last completed save ${lastDone}`);
      expect(gen, msg).toBeGreaterThanOrEqual(lastDone);
      expect(gen, msg).toBeLessThanOrEqual(lastDone + 1);
      expect(ck.epoch, msg).toBe(gen);
      expect(ck.history, msg).toEqual({ gen });
      for (const [name, p] of ck.model.namedParameters()) {
        expect(p.data.every((v) => v === gen), `${msg}: ${name} mixes generations`).toBe(true);
      }
      expect((ck.optimizerState as { type: string }).type).toBe('SGD');
      committed = gen;
    }
    console.log(`crash test: ${rounds} kills, ${interrupted} landed mid-save (leftover temp/staging files found)`);
    // The next save cleans up leftovers.
    save(load(d), d);
    expect(fs.readdirSync(d).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

// PyTorch cross-check (only when /usr/bin/python3 can import torch; CI may not have it).
const torchAvailable = fs.existsSync('/usr/bin/python3') &&
  spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe.runIf(torchAvailable)('PyTorch opens saved weights (torch found at /usr/bin/python3)', () => {
  it('nn.Sequential.load_state_dict(strict=True) accepts model.safetensors and computes the same outputs', () => {
    const model = new Sequential(new Linear(6, 16, { seed: 1 }), new ReLU(), new Linear(16, 8, { seed: 2 }), new Tanh(), new Linear(8, 3, { seed: 3 }));
    const d = fresh();
    save(model, d);
    const x = randn([5, 6], { seed });
    const script = `
import json, struct, sys, torch
path, xs = sys.argv[1], json.loads(sys.argv[2])
try:
    from safetensors.torch import load_file
    sd = load_file(path)
except ImportError:  # no safetensors package: read the format by hand
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    hdr = json.loads(raw[8:8 + n]); data = raw[8 + n:]
    sd = {k: torch.frombuffer(bytearray(data[v['data_offsets'][0]:v['data_offsets'][1]]), dtype=torch.float32).reshape(v['shape'])
          for k, v in hdr.items() if k != '__metadata__'}
net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
net.load_state_dict(sd, strict=True)
with torch.no_grad():
    print(json.dumps(net(torch.tensor(xs, dtype=torch.float32)).flatten().tolist()))
`;
    const r = spawnSync('/usr/bin/python3', ['-c', script, path.join(d, 'model.safetensors'), JSON.stringify(x.toArray())], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const torchOut = JSON.parse(r.stdout) as number[];
    const ours = Array.from(model.predict(x).data);
    torchOut.forEach((v, i) => expect(v, note(`output ${i}`)).toBeCloseTo(ours[i], 5));
  });
});
