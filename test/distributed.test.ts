// Data-parallel training (lib/distributed): the sampler's shards, 1 vs 2 vs 3 processes giving the same
// weights, a dead or stuck rank failing the others with its name, and the errors of init and the loader.
import { describe, it, expect, afterEach } from 'vitest';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DistributedSampler } from '../lib/distributed/sampler';
import { init, destroy, resolveInit } from '../lib/distributed/group';
import { loadGloo } from '../lib/distributed/native';
import { permutation } from '../lib/data/split';
import { deriveSeed } from '../lib/random';
import { fit, nn, tensor } from '../lib';
import { CLI, CHILD, runRanks, weightsOf, maxDiff } from './helpers/distributed-ranks';

const ROOT = path.join(__dirname, '..');
const ADDON = path.join(ROOT, 'native', 'collectives', 'build', 'Release', 'myelin_gloo.node');
const GLOO_INSTALLED = fs.existsSync('/usr/include/gloo/allreduce.h');

afterEach(() => destroy());

describe('DistributedSampler', () => {
  it('gives every row to exactly one rank per epoch, and batch b of all ranks is batch b of one process with W x the batch', () => {
    for (const [n, w, bs] of [[203, 2, 12], [203, 3, 8], [10, 3, 4], [2, 3, 1], [17, 1, 5]]) {
      for (const epoch of [0, 3]) {
        const shards = Array.from({ length: w }, (_, r) => new DistributedSampler(n, { rank: r, worldSize: w, seed: 5 }).indices(epoch));
        const seen = new Int32Array(n);
        for (const s of shards) for (const i of s) seen[i]++;
        expect(Array.from(seen).every((c) => c === 1)).toBe(true);
        expect(Math.max(...shards.map((s) => s.length)) - Math.min(...shards.map((s) => s.length))).toBeLessThanOrEqual(1);
        const single = permutation(n, deriveSeed(5, epoch));
        const steps = new DistributedSampler(n, { rank: 0, worldSize: w, seed: 5 }).stepsPerEpoch(bs);
        expect(steps).toBe(Math.ceil(Math.ceil(n / w) / bs));
        for (let b = 0; b < steps; b++) {
          const union = shards.flatMap((s) => Array.from(s.subarray(b * bs, (b + 1) * bs))).sort((x, y) => x - y);
          const batch = Array.from(single.subarray(b * bs * w, (b + 1) * bs * w)).sort((x, y) => x - y);
          expect(union).toEqual(batch);
        }
      }
    }
  });

  it('is seeded: the same seed and epoch give the same shard, another epoch another order', () => {
    const a = new DistributedSampler(100, { rank: 1, worldSize: 2, seed: 9 });
    expect(Array.from(a.indices(2))).toEqual(Array.from(new DistributedSampler(100, { rank: 1, worldSize: 2, seed: 9 }).indices(2)));
    expect(Array.from(a.indices(2))).not.toEqual(Array.from(a.indices(3)));
    expect(Array.from(new DistributedSampler(5, { rank: 1, worldSize: 2, seed: 9, shuffle: false }).indices(0))).toEqual([1, 3]);
  });

  it('rejects a rank outside the world', () => {
    expect(() => new DistributedSampler(10, { rank: 2, worldSize: 2, seed: 1 })).toThrow(/rank/);
  });

  it('names a missing or bad seed, bad options and a bad batch size instead of shuffling with seed 0 or returning Infinity', () => {
    const make = (opts: unknown) => () => new DistributedSampler(10, opts as { rank: number; worldSize: number; seed: number });
    expect(make({ rank: 0, worldSize: 2 })).toThrow(/DistributedSampler: seed/);
    expect(make({ rank: 0, worldSize: 2, seed: 1.5 })).toThrow(/seed/);
    expect(make(null)).toThrow(/DistributedSampler: options \{ rank, worldSize, seed \} are required, got null/);
    expect(make({ rank: 0, worldSize: 2, seed: 1, shufle: true })).toThrow(/unknown option 'shufle'/);
    expect(make({ rank: 0, worldSize: 2, seed: 1, shuffle: 'yes' })).toThrow(/shuffle/);
    const sampler = new DistributedSampler(10, { rank: 0, worldSize: 2, seed: 1 });
    expect(() => sampler.stepsPerEpoch(0)).toThrow(/batchSize/);
    expect(sampler.stepsPerEpoch(2)).toBe(3);
  });
});

describe('distributed.init', () => {
  it('reads rank and world size from the arguments, else RANK/WORLD_SIZE, else the MPI variables', () => {
    const saved = { ...process.env };
    try {
      delete process.env.RANK; delete process.env.WORLD_SIZE;
      process.env.OMPI_COMM_WORLD_RANK = '2'; process.env.OMPI_COMM_WORLD_SIZE = '4';
      expect(resolveInit({ rendezvous: '/tmp/x' })).toMatchObject({ rank: 2, worldSize: 4 });
      process.env.RANK = '1'; process.env.WORLD_SIZE = '3';
      expect(resolveInit({ rendezvous: '/tmp/x' })).toMatchObject({ rank: 1, worldSize: 3 });
      expect(resolveInit({ rank: 0, worldSize: 2, rendezvous: '/tmp/x' })).toMatchObject({ rank: 0, worldSize: 2 });
      process.env.MASTER_ADDR = 'h1'; process.env.MASTER_PORT = '7000'; delete process.env.MYELIN_RENDEZVOUS;
      expect(resolveInit({}).rendezvous).toBe('redis://h1:7000');
      process.env.RANK = 'x';
      expect(() => resolveInit({})).toThrow(/RANK="x" is not a non-negative integer/);
    } finally {
      for (const k of ['RANK', 'WORLD_SIZE', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'MYELIN_RENDEZVOUS']) {
        if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
      }
    }
  });

  it('says what is wrong: rank out of range, no rendezvous, a bad rendezvous', () => {
    expect(() => init({ rank: 2, worldSize: 2, rendezvous: '/tmp/x' })).toThrow(/rank must be an integer in 0..1 \(worldSize 2\), got 2/);
    expect(() => init({ rank: 0, worldSize: 2 })).toThrow(/no rendezvous/);
    expect(() => init({ rank: 0, worldSize: 2, rendezvous: 'http://x' })).toThrow(/neither a directory/);
  });

  it('a world of one needs no Gloo and trains as fit without the option', async () => {
    const g = init({ rank: 0, worldSize: 1 });
    expect(g.backend).toBe('local');
    const x = tensor(Array.from({ length: 40 }, (_, i) => [Math.sin(i), Math.cos(i)]));
    const y = tensor(Array.from({ length: 40 }, (_, i) => [Math.sin(2 * i)]));
    const train = async (distributed: boolean) => {
      const model = new nn.Sequential(new nn.Linear(2, 4), new nn.Tanh(), new nn.Linear(4, 1), { seed: 3 });
      await fit(model, { x, y }, { epochs: 2, batchSize: 7, seed: 1, verbose: 0, distributed });
      return model.parameters().flatMap((p) => Array.from(p.data));
    };
    expect(await train(true)).toEqual(await train(false));
  });

  it('buckets start during backward, also once the fused Linear adds into existing .grad buffers directly', async () => {
    init({ rank: 0, worldSize: 1 });
    const x = tensor(Array.from({ length: 64 }, (_, i) => [Math.sin(i), Math.cos(i), i / 64]));
    const y = new Int32Array(64).map((_, i) => i % 3);
    const model = new nn.Sequential(new nn.Linear(3, 16), new nn.ReLU(), new nn.Linear(16, 3), { seed: 2 });
    // Buckets of 64 bytes: [16,3] then [3,16] weights get one each, the biases one each; every bucket but
    // the last (the first layer's weight, which backward finishes last) starts while backward still runs.
    const started: number[] = [];
    let sizes: number[] = [];
    for (let run = 0; run < 2; run++) {
      // The second fit starts with .grad buffers in place: the fused op then hands the tape no weight gradient.
      await fit(model, { x, y }, {
        epochs: 1, batchSize: 16, seed: 1, verbose: 0,
        distributed: { bucketBytes: 64, onStats: (s) => { sizes = s.bucketSizes; started.push(s.bytesStartedInBackward / s.steps); } },
      });
    }
    // Each bucket holds one float more (the batch weight's slot); the last is the first layer's weight.
    expect(sizes).toEqual([3 + 1, 16 * 3 + 1, 16 + 1, 3 * 16 + 1]);
    expect(started).toEqual([4 * (4 + 49 + 17), 4 * (4 + 49 + 17)]);
  });

  it('fit({ distributed: true }) without a group says to call init', async () => {
    const model = new nn.Sequential(new nn.Linear(2, 1));
    await expect(fit(model, { x: tensor([[1, 2]]), y: tensor([[1]]) }, { verbose: 0, distributed: true })).rejects.toThrow(/call myelin.distributed.init\(\) first/);
  });

  it('the main addon and the prebuilds link neither Gloo nor MPI (they load on machines without them)', () => {
    const main = path.join(ROOT, 'build', 'Release', 'myelin.node');
    const r = spawnSync('ldd', [main], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/libc\.so/);
    expect(r.stdout).not.toMatch(/gloo|hiredis|ibverbs|libmpi|libopen-(pal|rte)|pmix/);
    // The prebuilds (any architecture): their NEEDED entries, read without loading them.
    const prebuilds = path.join(ROOT, 'prebuilds');
    const built = fs.existsSync(prebuilds) ? fs.readdirSync(prebuilds).map((d) => path.join(prebuilds, d, 'myelin.node')).filter((f) => fs.existsSync(f)) : [];
    for (const file of [main, ...built]) {
      const d = spawnSync('readelf', ['-d', file], { encoding: 'utf8' });
      expect(d.status, file).toBe(0);
      expect(d.stdout, file).toMatch(/NEEDED.*libc\.so/);
      expect(d.stdout, file).not.toMatch(/gloo|hiredis|ibverbs|libmpi|libopen-(pal|rte)|pmix/);
    }
  });

  it('a missing collectives addon is an Error naming the package or the build command', () => {
    const msg = (() => { try { loadGloo('/nonexistent/myelin_gloo.node'); return ''; } catch (e) { return (e as Error).message; } })();
    expect(msg).toMatch(GLOO_INSTALLED ? /build the addon with `node .*build-collectives\.js`/ : /libgloo-dev \(apt-get install libgloo-dev\)/);
  });
});

describe('myelin run', () => {
  it('refuses a missing script and a bad --nproc, naming them', () => {
    const missing = spawnSync(process.execPath, [CLI, 'run', '--nproc', '2', '/nonexistent/train.js'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/run: script \/nonexistent\/train\.js does not exist/);
    const zero = spawnSync(process.execPath, [CLI, 'run', '--nproc', '0', CHILD], { encoding: 'utf8' });
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(/--nproc/);
  });
});

// CI installs libgloo-dev and `npm install` builds the addon, so there these always run; on a machine
// without Gloo, the loader test above checks the error instead.
describe.runIf(GLOO_INSTALLED)('training over Gloo (2 and 3 processes on this machine)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-dist-test-'));

  it('the collectives addon is built where Gloo is installed', () => {
    expect(fs.existsSync(ADDON)).toBe(true);
  });

  it('2 and 3 processes train the MLP to the weights of one process with the combined batch (1e-5)', () => {
    // One process, batch 24; 2 processes x 12; 3 processes x 8 (203 rows: ragged shards and last batch).
    expect(runRanks(1, [path.join(dir, 'one-RANK.json'), '24', '3']).status).toBe(0);
    const one = weightsOf(path.join(dir, 'one-0.json'));
    for (const [n, bs] of [[2, 12], [3, 8]]) {
      const r = runRanks(n, [path.join(dir, `w${n}-RANK.json`), String(bs), '3']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const rank0 = weightsOf(path.join(dir, `w${n}-0.json`));
      expect(maxDiff(one, rank0)).toBeLessThan(1e-5);
      for (let k = 1; k < n; k++) expect(maxDiff(rank0, weightsOf(path.join(dir, `w${n}-${k}.json`)))).toBe(0);
    }
  }, 120000);

  it('only rank 0 logs and writes the checkpoint; a resumed run equals an uninterrupted one; another world size is refused', () => {
    const ckpt = path.join(dir, 'ckpt');
    const straight = runRanks(2, [path.join(dir, 'straight-RANK.json'), '12', '3'], { TEST_VERBOSE: '2' });
    expect(straight.status).toBe(0);
    // verbose 2 prints one line per epoch: 3 epochs, from rank 0 only.
    expect((straight.stdout.match(/^Epoch \d+\/3/gm) ?? []).length).toBe(3);
    expect(runRanks(2, [path.join(dir, 'first-RANK.json'), '12', '1'], { TEST_CHECKPOINT_DIR: ckpt }).status).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(ckpt, 'distributed.json'), 'utf8'))).toEqual({ worldSize: 2 });
    const resumed = runRanks(2, [path.join(dir, 'resumed-RANK.json'), '12', '3'], { TEST_RESUME_FROM: ckpt });
    expect(resumed.status).toBe(0);
    expect(maxDiff(weightsOf(path.join(dir, 'straight-0.json')), weightsOf(path.join(dir, 'resumed-0.json')))).toBeLessThan(1e-6);
    const other = runRanks(3, [path.join(dir, 'other-RANK.json'), '8', '3'], { TEST_RESUME_FROM: ckpt });
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/was trained with worldSize 2, this run has 3; resume with the same number of processes/);
  }, 120000);

  it('a rank that dies makes the others fail at once with an error naming it (never a hang)', () => {
    // The collective timeout is 20 s; a dead process closes its sockets, so the others fail well before.
    const r = runRanks(3, [path.join(dir, 'dead-RANK.json'), '8', '2', '4'], { TEST_TIMEOUT_MS: '20000' });
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/myelin run: rank 2 \(pid \d+\) failed first: exit code 7/);
    // Which peer's connection broke depends on timing (and Gloo's error does not always carry an address
    // this rank can map); the rank that failed first is named from the survivors' reports either way.
    expect(r.stderr).toMatch(/rank 0: rank 0 lost its connection to (rank \d|another rank).*: rank 2 failed first/);
    expect(r.stderr).toMatch(/rank 1: rank 1 lost its connection to (rank \d|another rank).*: rank 2 failed first/);
    expect(r.seconds).toBeLessThan(15);
  }, 120000);

  it('a rank that is stuck makes the others fail after the stated timeout', () => {
    const r = runRanks(2, [path.join(dir, 'stuck-RANK.json'), '12', '2', '3', 'hang'], { TEST_TIMEOUT_MS: '2000' });
    expect(r.stderr).toMatch(/rank 0: rank 0 timed out after 2000 ms waiting for the other ranks/);
    expect(r.stderr).toMatch(/myelin run: rank 0 \(pid \d+\) failed first: exit code 1/);
    expect(r.status).toBe(1);
  }, 120000);
});
