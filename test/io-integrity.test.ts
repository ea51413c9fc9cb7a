// Model directories under damage and hostile input: every bit flip of model.json, legacy format 1,
// symlinks / sparse files / FIFOs / directories in place of data files, architectures that do not fit
// the weights, and what save() may delete or create.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Tensor, randn } from '../lib/tensor';
import { Sequential, Linear, ReLU, LeakyReLU, GELU, Dropout, Flatten, Softmax, Module } from '../lib/nn';
import { Adam } from '../lib/optim';
import { save, load, loadCheckpoint, readModelInfo, ModelInfo } from '../lib/io/model-file';
import { manifestDigest } from '../lib/io/model-dir';
import { ensureDist, ROOT } from './helpers/dist';

const seed = (Date.now() ^ (process.pid << 10)) >>> 0;
const note = (msg: string): string => `${msg} (seed ${seed})`;

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-integrity-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });
let counter = 0;
const fresh = (): string => path.join(dir, `m${counter++}`);

const readJson = (d: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(d, 'model.json'), 'utf8'));
function writeSigned(d: string, manifest: Record<string, unknown>): void {
  const { sha256: _old, ...body } = manifest;
  fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...body, sha256: manifestDigest(body) }));
}

/** Everything a user can observe of a loaded model: predictions on a fixed input, and model.json's facts. */
function observe(d: string, x: Tensor): { out: number[]; info: ModelInfo; describe: string } {
  const m = load(d);
  const info = readModelInfo(d);
  return { out: Array.from(m.predict(x).data), info, describe: m.toString() };
}

describe('model.json is self-verifying: every single-bit flip is refused or changes nothing', () => {
  it('all bit positions of a small model.json (LeakyReLU, GELU, Dropout, metadata)', () => {
    const model = new Sequential(
      new Linear(3, 4, { seed: 1 }), new LeakyReLU(0.2), new Linear(4, 3, { seed: 2 }), new GELU({ approximate: 'tanh' }),
      new Dropout(0.25), new Linear(3, 2, { seed: 3, bias: false }), new Softmax(),
    );
    const d = fresh();
    save(model, d, { metadata: { task: 'classification', classNames: ['cat', 'dog'], inputScale: 0.5 } });
    const x = randn([5, 3], { seed: 9 });
    const want = observe(d, x);
    const good = fs.readFileSync(path.join(d, 'model.json'));
    let refused = 0;
    let same = 0;
    const messages = new Map<string, number>();
    for (let byte = 0; byte < good.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = Buffer.from(good);
        bad[byte] ^= 1 << bit;
        fs.writeFileSync(path.join(d, 'model.json'), bad);
        let got: ReturnType<typeof observe> | null = null;
        try {
          got = observe(d, x);
        } catch (err) {
          expect(err, `byte ${byte} bit ${bit}`).toBeInstanceOf(Error);
          const msg = (err as Error).message;
          expect(msg, `byte ${byte} bit ${bit}`).toMatch(/^load: .*model\.json/);
          const kind = msg.replace(/^load: \S+model\.json:? ?/, '').slice(0, 40);
          messages.set(kind, (messages.get(kind) ?? 0) + 1);
          refused++;
          continue;
        }
        // Loaded: then nothing observable may differ.
        expect(got.out, `byte ${byte} bit ${bit} loaded with different predictions`).toEqual(want.out);
        expect(got.info, `byte ${byte} bit ${bit} loaded with different model.json facts`).toEqual(want.info);
        expect(got.describe).toBe(want.describe);
        same++;
      }
    }
    fs.writeFileSync(path.join(d, 'model.json'), good);
    expect(refused + same).toBe(good.length * 8);
    console.log(`model.json bit flips: ${good.length * 8} (${good.length} bytes), ${refused} refused, ${same} loaded unchanged; ` +
      `errors: ${[...messages].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, n]) => `${n}x "${k}..."`).join(', ')}`);
  });

  it('a seeded sample of flips in a checkpoint model.json: refused, or the same checkpoint', () => {
    const model = new Sequential(new Linear(3, 5, { seed: 4 }), new ReLU(), new Linear(5, 2, { seed: 5 }));
    const d = fresh();
    save(model, d, { optimizer: new Adam(model.parameters()), epoch: 3, history: { loss: [1, 0.5] }, metadata: { run: 'x' } });
    const want = loadCheckpoint(d);
    const good = fs.readFileSync(path.join(d, 'model.json'));
    let state = seed;
    for (let trial = 0; trial < 1500; trial++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      const byte = state % good.length;
      const bit = (state >>> 24) % 8;
      const bad = Buffer.from(good);
      bad[byte] ^= 1 << bit;
      fs.writeFileSync(path.join(d, 'model.json'), bad);
      let got: ReturnType<typeof loadCheckpoint>;
      try {
        got = loadCheckpoint(d);
      } catch (err) {
        expect((err as Error).message, note(`byte ${byte} bit ${bit}`)).toMatch(/^load: .*model\.json/);
        continue;
      }
      expect(got.info, note(`byte ${byte} bit ${bit}`)).toEqual(want.info);
      expect(got.epoch).toBe(want.epoch);
      expect(got.history).toEqual(want.history);
    }
  });

  it('a missing or malformed digest is an error in format 2; edits with a new digest load; verify:false skips it', () => {
    const d = fresh();
    save(new Sequential(new Linear(2, 2, { seed: 1 })), d, { metadata: { classNames: ['a', 'b'] } });
    const m = readJson(d);
    const { sha256: _drop, ...noDigest } = m;
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify(noDigest));
    expect(() => load(d)).toThrow(/model\.json: its 'sha256' is missing \(this format version always has one/);
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...m, sha256: (m.sha256 as string).toUpperCase() }));
    expect(() => load(d)).toThrow(/'sha256' must be 64 lowercase hex digits/);
    const edited = { ...m, metadata: { classNames: ['b', 'a'] } };
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify(edited));
    expect(() => load(d)).toThrow(/sha256 of its contents does not match/);
    expect(readModelInfo(d, { verify: false }).metadata).toEqual({ classNames: ['b', 'a'] });
    writeSigned(d, edited);
    expect(readModelInfo(d).metadata).toEqual({ classNames: ['b', 'a'] });
  });

  it('unknown and missing keys are errors, not defaults (model.json and every layer config)', () => {
    const d = fresh();
    save(new Sequential(new Linear(2, 3, { seed: 1 }), new LeakyReLU(0.3), new Linear(3, 2, { seed: 2 })), d);
    const m = readJson(d);
    const arch = m.architecture as { layers: Record<string, unknown>[] };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...m, extra: 1 }, /model\.json: unknown key 'extra'/],
      [Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'inputShape')), /model\.json: missing key 'inputShape'/],
      [{ ...m, architecture: { ...arch, layers: [arch.layers[0], { type: 'LeakyReLU' }, arch.layers[2]] } },
        /architecture: fromConfig: model\.1: LeakyReLU is missing key 'negativeSlope'/],
      [{ ...m, architecture: { ...arch, layers: [arch.layers[0], { type: 'LeakyReLU', negativeSlopf: 0.3 }, arch.layers[2]] } },
        /architecture: fromConfig: model\.1: LeakyReLU has no key 'negativeSlopf' \(its keys: type, negativeSlope\)/],
      [{ ...m, architecture: { ...arch, layers: [arch.layers[0], { type: 'GELU' }, arch.layers[2]] } },
        /model\.1: GELU is missing key 'approximate'/],
      [{ ...m, architecture: { ...arch, layers: [{ ...arch.layers[0], bias: 'yes' }, arch.layers[1], arch.layers[2]] } },
        /model\.0: Linear key 'bias' must be true or false, got "yes"/],
      [{ ...m, files: { ...(m.files as object), extra: (m.files as { weights: unknown }).weights } }, /files has an unknown entry 'extra'/],
      [{ ...m, epoch: 2 }, /epoch must be null for a model without optimizer state/],
    ];
    for (const [manifest, re] of cases) {
      writeSigned(d, manifest);
      expect(() => load(d)).toThrow(re);
    }
  });

  it('format 1 directories (written before the digest) still load, with a warning', async () => {
    const model = new Sequential(new Flatten(), new Linear(6, 3, { seed: 1 }), new ReLU(), new Linear(3, 2, { seed: 2 }));
    const d = fresh();
    save(model, d, { metadata: { task: 'classification' } });
    const m = readJson(d);
    const { sha256: _drop, preprocessing: _none, ...v1 } = m;
    // Format 1 wrote Flatten without startDim.
    const arch = v1.architecture as { layers: Record<string, unknown>[] };
    arch.layers[0] = { type: 'Flatten' };
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...v1, formatVersion: 1 }));
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => { warnings.push(w); };
    process.on('warning', onWarning);
    const back = load(d);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    const x = randn([4, 2, 3], { seed: 3 });
    expect(Array.from(back.predict(x).data)).toEqual(Array.from(model.predict(x).data));
    expect(readModelInfo(d).formatVersion).toBe(1);
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toContain('MYELIN_UNVERIFIED_MODEL');
    expect(warnings[0].message).toMatch(/format version 1, which carries no digest.*Save the model again/);
    // Strict keys apply to format 1 too.
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...v1, formatVersion: 1, metadta: {} }));
    expect(() => load(d)).toThrow(/unknown key 'metadta'/);
    // Saving again upgrades it.
    save(back, d);
    expect(readModelInfo(d).formatVersion).toBe(2);
  });
});

describe('files of a model directory are checked before they are read', () => {
  const base = (): string => {
    const d = fresh();
    save(new Sequential(new Linear(4, 3, { seed: 1 }), new ReLU(), new Linear(3, 2, { seed: 2 })), d);
    return d;
  };
  const weights = (d: string): string => path.join(d, 'model.safetensors');

  /** Runs `fn` and returns its error and how much the peak resident set grew (MB). */
  function attempt(fn: () => unknown): { err: Error | null; grewMb: number } {
    const before = process.resourceUsage().maxRSS;
    let err: Error | null = null;
    try {
      fn();
    } catch (e) {
      err = e as Error;
    }
    return { err, grewMb: (process.resourceUsage().maxRSS - before) / 1024 };
  }

  it('a symlink to /dev/zero is refused without reading it', () => {
    const d = base();
    fs.rmSync(weights(d));
    fs.symlinkSync('/dev/zero', weights(d));
    const { err, grewMb } = attempt(() => load(d));
    expect(err?.message).toMatch(/model\.safetensors is a symbolic link; the files of a model directory must be regular files/);
    expect(grewMb).toBeLessThan(50);
    expect(() => load(d, { verify: false })).toThrow(/is a symbolic link/);
    // model.json itself too.
    const d2 = base();
    fs.rmSync(path.join(d2, 'model.json'));
    fs.symlinkSync('/dev/zero', path.join(d2, 'model.json'));
    expect(() => load(d2)).toThrow(/model\.json is a symbolic link/);
  });

  it('a symlink to another regular file (even a valid copy) is refused', () => {
    const d = base();
    const elsewhere = path.join(dir, `copy-${counter++}.safetensors`);
    fs.copyFileSync(weights(d), elsewhere);
    fs.rmSync(weights(d));
    fs.symlinkSync(elsewhere, weights(d));
    expect(() => load(d)).toThrow(/is a symbolic link/);
  });

  it('a 2 GB sparse file is refused by its size, before it is read', () => {
    const d = base();
    fs.truncateSync(weights(d), 2 * 1024 ** 3);
    const { err, grewMb } = attempt(() => load(d));
    expect(err?.message).toMatch(/model\.safetensors is 2147483648 bytes but model\.json records \d+/);
    expect(grewMb).toBeLessThan(50);
    expect(attempt(() => load(d, { verify: false })).err?.message).toMatch(/is 2147483648 bytes but model\.json records/);
    const d2 = base();
    fs.truncateSync(path.join(d2, 'model.json'), 2 * 1024 ** 3);
    const r2 = attempt(() => load(d2));
    expect(r2.err?.message).toMatch(/model\.json is 2147483648 bytes, more than the 67108864-byte limit/);
    expect(r2.grewMb).toBeLessThan(50);
  });

  it('a FIFO is refused at once (no hang), a directory or a device is refused', () => {
    const d = base();
    fs.rmSync(weights(d));
    expect(spawnSync('mkfifo', [weights(d)]).status).toBe(0);
    expect(() => load(d)).toThrow(/model\.safetensors is a FIFO \(named pipe\), not a regular file/);
    fs.rmSync(weights(d));
    fs.mkdirSync(weights(d));
    expect(() => load(d)).toThrow(/model\.safetensors is a directory, not a regular file/);
    const d2 = base();
    fs.rmSync(path.join(d2, 'model.json'));
    expect(spawnSync('mkfifo', [path.join(d2, 'model.json')]).status).toBe(0);
    expect(() => load(d2)).toThrow(/model\.json is a FIFO/);
  });

  it('a listed path through a symlinked folder is refused', () => {
    const d = base();
    const m = readJson(d);
    const outside = fs.mkdtempSync(path.join(dir, 'outside-'));
    fs.copyFileSync(weights(d), path.join(outside, 'model.safetensors'));
    fs.symlinkSync(outside, path.join(d, 'sub'));
    writeSigned(d, { ...m, files: { weights: { ...(m.files as { weights: object }).weights, path: 'sub/model.safetensors' } } });
    expect(() => load(d)).toThrow(/sub is a symbolic link/);
  });

  it('an architecture larger than its weights is refused before the model is allocated', () => {
    // A small model.json (with a valid digest: digests detect damage, not intent) claiming Linear(12000, 12000):
    // building it first would cost 576 MB.
    const d = base();
    const m = readJson(d);
    writeSigned(d, { ...m, architecture: { type: 'Linear', inFeatures: 12000, outFeatures: 12000, bias: true }, inputShape: [12000] });
    const { err, grewMb } = attempt(() => load(d));
    expect(err?.message).toMatch(/model\.json: the architecture has 144012000 parameters \(576048000 bytes as float32\) but model\.safetensors is \d+ bytes/);
    expect(grewMb).toBeLessThan(200);
    // Same tensor names, other shapes: refused by the safetensors header check, also before allocation.
    writeSigned(d, { ...m, architecture: { type: 'Sequential', layers: [
      { type: 'Linear', inFeatures: 3, outFeatures: 4, bias: true }, { type: 'ReLU' }, { type: 'Linear', inFeatures: 4, outFeatures: 2, bias: true }] } });
    expect(() => load(d)).toThrow(/tensor '0\.weight' has shape \[3,4\], the architecture needs \[4,3\]/);
  });
});

describe('save() deletes only what belongs to the model format and refuses bad targets', () => {
  it('an old model.json listing "..", a user file or a folder: nothing outside the format is deleted', () => {
    const parent = fresh();
    const d = path.join(parent, 'model');
    save(new Sequential(new Linear(2, 2)), d);
    fs.writeFileSync(path.join(parent, 'precious.txt'), 'keep me');
    fs.writeFileSync(path.join(d, 'notes.txt'), 'mine');
    fs.mkdirSync(path.join(d, 'data'));
    fs.writeFileSync(path.join(d, 'data', 'x.csv'), '1,2');
    const m = readJson(d);
    const w = (m.files as { weights: object }).weights;
    writeSigned(d, { ...m, files: {
      weights: w, b: { ...w, path: 'notes.txt' }, a: { ...w, path: '..' }, c: { ...w, path: 'data' }, e: { ...w, path: '../precious.txt' },
    } });
    save(new Sequential(new Linear(3, 1)), d);
    expect(fs.readFileSync(path.join(parent, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(fs.readFileSync(path.join(d, 'notes.txt'), 'utf8')).toBe('mine');
    expect(fs.readFileSync(path.join(d, 'data', 'x.csv'), 'utf8')).toBe('1,2');
    expect(fs.readdirSync(d).sort()).toEqual(['data', 'model.json', 'model.safetensors', 'notes.txt']);
    expect(load(d).toConfig()).toEqual({ type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 3, outFeatures: 1, bias: true }] });
  });

  it('format files the new save does not write are still removed (checkpoint -> plain model)', () => {
    const d = fresh();
    const a = new Sequential(new Linear(3, 2));
    save(a, d, { optimizer: new Adam(a.parameters()), epoch: 1 });
    save(a, d);
    expect(fs.readdirSync(d).sort()).toEqual(['model.json', 'model.safetensors']);
  });

  it('a path that is an existing file gives a save: error saying what to do', () => {
    const f = path.join(dir, `file-${counter++}`);
    fs.writeFileSync(f, 'x');
    expect(() => save(new Sequential(new Linear(2, 2)), f)).toThrow(
      /^save: '.*file-\d+' exists and is not a directory; a saved model is a directory .*: pass a directory path, or move the file away$/,
    );
    expect(() => save(new Sequential(new Linear(2, 2)), path.join(f, 'sub'))).toThrow(/^save: cannot create '.*sub': '.*file-\d+' exists and is not a directory/);
    expect(fs.readFileSync(f, 'utf8')).toBe('x');
  });

  it('a path under /proc is refused promptly instead of hanging (Node 20 recursive mkdirSync never returns there)', () => {
    ensureDist();
    const script = `
      const { save } = require(${JSON.stringify(path.join(ROOT, 'dist', 'io', 'model-file.js'))});
      const nn = require(${JSON.stringify(path.join(ROOT, 'dist', 'nn', 'index.js'))});
      try { save(new nn.Sequential(new nn.Linear(2, 2)), '/proc/myelin-test/model'); console.log('saved?'); }
      catch (e) { console.log(e.message); }`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal, 'save under /proc hung').toBeNull();
    expect(r.stdout).toMatch(/^save: cannot create directory '\/proc\/myelin-test': /);
  });
});

describe('Module equality helper sanity', () => {
  it('observe() sees a change in a layer parameter', () => {
    const d = fresh();
    save(new Sequential(new Linear(2, 2, { seed: 1 }), new LeakyReLU(0.1)), d);
    const x = randn([3, 2], { seed: 1 });
    const a = observe(d, x);
    const m = readJson(d);
    writeSigned(d, { ...m, architecture: { type: 'Sequential', layers: [
      { type: 'Linear', inFeatures: 2, outFeatures: 2, bias: true }, { type: 'LeakyReLU', negativeSlope: 0.01 }] } });
    const b = observe(d, x);
    expect(b.out).not.toEqual(a.out);
    expect(b.info).not.toEqual(a.info);
    expect(load(d)).toBeInstanceOf(Module);
  });
});
