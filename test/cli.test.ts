// The compiled `myelin` CLI in child processes: info, usage errors (exit 2), train, predict (CSV/IDX/stdin, bounded memory), export.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import { ensureDist, DIST_CLI } from './helpers/dist';
import { load, readModelInfo, save } from '../lib/io/model-file';
import * as nn from '../lib/nn';
import { Tensor } from '../lib/tensor';
import { formatNumber } from '../lib/cli/predict-command';

const seed = ((Date.now() ^ (process.pid << 4)) >>> 0) % 1_000_000;
let dir = '';

function cli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [DIST_CLI, ...args], {
    encoding: 'utf8', input: opts.input, cwd: dir, env: { ...process.env, ...opts.env }, maxBuffer: 1 << 28,
  });
}
const show = (r: SpawnSyncReturns<string>): string => `exit ${r.status}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;

/** A separable 3-class problem with a header: columns f0..f3, then 'kind'. */
function writeBlobs(file: string, n: number, withLabel = true): number[] {
  let state = seed + 1;
  const rand = (): number => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return state / 4294967296; };
  const labels: number[] = [];
  const lines = [withLabel ? 'f0,f1,f2,f3,kind' : 'f0,f1,f2,f3'];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    const row = [0, 1, 2, 3].map((j) => ((j === k ? 3 : 0) + rand() - 0.5).toFixed(3));
    if (withLabel) row.push(String(k));
    labels.push(k);
    lines.push(row.join(','));
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return labels;
}

beforeAll(() => {
  ensureDist();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-cli-'));
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('predict output numbers', () => {
  it('formatNumber writes what String(Number(v.toPrecision(p))) writes, for random magnitudes and precisions', () => {
    let state = seed + 7;
    const rand = (): number => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return state / 4294967296; };
    for (let i = 0; i < 20000; i++) {
      const v = Math.fround((rand() - 0.3) * 10 ** Math.floor(rand() * 30 - 12));
      const p = 1 + Math.floor(rand() * 17);
      expect(formatNumber(v, p), `${v} at ${p}`).toBe(Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(p))));
    }
    for (const v of [1e-6, 9.9999999e-7, 0.1, 0.5, 1 - 1e-9, 123456.5, 999999.5, -0.000125]) {
      expect(formatNumber(v, 6)).toBe(String(Number(v.toPrecision(6))));
    }
  });
});

describe('myelin info / usage', () => {
  it('info prints backend, SIMD level, threads and version', () => {
    const r = cli(['info']);
    expect(r.status, show(r)).toBe(0);
    const version = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).version;
    expect(r.stdout).toContain(`myelin ${version}`);
    expect(r.stdout).toMatch(/backend: +(native|js)/);
    expect(r.stdout).toMatch(/simd: +(avx2|scalar|none)/);
    expect(r.stdout).toMatch(/threads: +\d+/);
    const j = cli(['info', '--json']);
    const facts = JSON.parse(j.stdout);
    expect(facts.version).toBe(version);
    expect(['native', 'js']).toContain(facts.backend);
    expect(cli(['--backend', 'js', 'info', '--json']).stdout).toContain('"backend": "js"');
  });

  it('--help and --version exit 0', () => {
    expect(cli(['--help']).status).toBe(0);
    expect(cli(['train', '--help']).stdout).toContain('--layers');
    expect(cli(['--version']).status).toBe(0);
  });

  it('usage errors exit 2 and say what was expected', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--data', 'digits', '--out', 'm', '--layers', '256,x'], /--layers must be a comma-separated list of positive integers, got '256,x'/],
      [['train', '--data', 'digits', '--out', 'm', '--epochs', '0'], /--epochs must be a positive integer, got '0'/],
      [['train', '--data', 'digits', '--out', 'm', '--lr', 'fast'], /--lr must be a positive number, got 'fast'/],
      [['train', '--data', 'digits', '--out', 'm', '--val-split', '1.5'], /--val-split must be a number in \[0, 1\), got '1.5'/],
      [['train', '--data', 'digits', '--out', 'm', '--activation', 'swish'], /--activation must be one of relu, leakyRelu, sigmoid, tanh, gelu, got 'swish'/],
      [['train', '--data', 'digits', '--out', 'm', '--precision', 'fp16'], /--precision must be one of fp32, bf16, got 'fp16'/],
      [['train', '--out', 'm'], /required option '--data <source>' not specified/],
      [['train', '--data', 'nope.csv', '--out', 'm'], /--data must be 'digits', 'fashion-mnist' or the path of a CSV file, got 'nope.csv'/],
      [['predict', '--model', 'm'], /required option '--input <file\.\.\.>'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['--backend', 'gpu', 'info'], /--backend must be one of native, js, got 'gpu'/],
      [['export', '--model', 'm'], /--onnx <file\.onnx>/],
    ];
    for (const [args, re] of cases) {
      const r = cli(args);
      expect(r.status, `${args.join(' ')}\n${show(r)}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
    }
  });

  it.runIf(fs.existsSync(path.join(__dirname, '..', 'bench', 'run.js')))('bench passes its arguments through to bench/run.js', () => {
    const r = cli(['bench', '--help']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/Usage: bench\/run\.js/);
  });

  it('runtime failures exit 1 with a message', () => {
    const r = cli(['predict', '--model', 'no-such-model', '--input', '-'], { input: '1,2\n' });
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(/myelin: error: load: model directory 'no-such-model' does not exist/);
  });
});

describe('myelin train / predict / export', () => {
  it('trains on the built-in digits, reports accuracy and speed, saves a loadable model', () => {
    const r = cli(['train', '--data', 'digits', '--layers', '64', '--epochs', '10', '--lr', '0.01', '--batch', '64', '--seed', String(seed), '--out', 'digits-model']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/test accuracy: +\d+\.\d+% \(\d+ rows\)/);
    expect(r.stdout).toMatch(/samples\/s/);
    const acc = Number(/test accuracy: +(\d+\.\d+)%/.exec(r.stdout)![1]);
    expect(acc, `seed ${seed}\n${r.stdout}`).toBeGreaterThan(85);
    const info = readModelInfo(path.join(dir, 'digits-model'));
    expect(info.inputShape).toEqual([64]);
    expect(info.metadata.task).toBe('classification');
    expect(load(path.join(dir, 'digits-model')).toConfig()).toEqual(info.architecture);
    // Image models take [0, 1] pixels in code (as data.loadDigits gives them); the CLI scales raw ones.
    expect(info.preprocessing).toBeNull();
    expect(info.metadata.inputScale).toBe(1 / 16);
  });

  it('--precision bf16 trains in mixed precision: a model as accurate, with other weights than fp32 from the same seed', () => {
    const run = (precision: string): Float32Array[] => {
      const out = `digits-${precision}`;
      const r = cli(['train', '--data', 'digits', '--layers', '64', '--epochs', '10', '--lr', '0.01', '--batch', '64', '--seed', String(seed), '--precision', precision, '--out', out]);
      expect(r.status, show(r)).toBe(0);
      const acc = Number(/test accuracy: +(\d+\.\d+)%/.exec(r.stdout)![1]);
      expect(acc, `${precision}, seed ${seed}\n${r.stdout}`).toBeGreaterThan(85);
      return load(path.join(dir, out)).parameters().map((p) => Float32Array.from(p.data));
    };
    const fp32 = run('fp32');
    const bf16 = run('bf16');
    expect(bf16.length).toBe(fp32.length);
    // bf16-rounded products change every step's update: the weights part ways (identical weights would
    // mean the option never reached fit).
    const differs = bf16.some((w, i) => w.some((v, j) => v !== fp32[i][j]));
    expect(differs).toBe(true);
  });

  it('trains on a CSV with a named label column and predicts it back (file, stdin, IDX)', () => {
    const train = path.join(dir, 'blobs.csv');
    writeBlobs(train, 600);
    const r = cli(['train', '--data', 'blobs.csv', '--label-column', 'kind', '--layers', '16', '--epochs', '15', '--lr', '0.01', '--batch', '32', '--seed', String(seed), '--out', 'blobs-model', '-q']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/validation accuracy/);
    expect(readModelInfo(path.join(dir, 'blobs-model')).preprocessing?.featureNames).toEqual(['f0', 'f1', 'f2', 'f3']);

    const truth = writeBlobs(path.join(dir, 'unlabelled.csv'), 300, false);
    const p = cli(['predict', '--model', 'blobs-model', '--input', 'unlabelled.csv', '--output', 'preds.csv', '--probabilities']);
    expect(p.status, show(p)).toBe(0);
    const lines = fs.readFileSync(path.join(dir, 'preds.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('class,p0,p1,p2');
    expect(lines.length - 1).toBe(300);
    const predicted = lines.slice(1).map((l) => Number(l.split(',')[0]));
    const correct = predicted.filter((c, i) => c === truth[i]).length;
    expect(correct / 300, `seed ${seed}`).toBeGreaterThan(0.9);
    for (const l of lines.slice(1, 20)) {
      const probs = l.split(',').slice(1).map(Number);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    }

    // stdin -> stdout, with the label column of a labelled file ignored by name.
    const s = cli(['predict', '--model', 'blobs-model', '--input', '-', '--label-column', 'kind'], { input: fs.readFileSync(train, 'utf8') });
    expect(s.status, show(s)).toBe(0);
    expect(s.stdout.trim().split('\n').length - 1).toBe(600);

    // The same rows from an IDX file (float32, [n, 4]).
    const rows = fs.readFileSync(path.join(dir, 'unlabelled.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    const header = Buffer.alloc(12);
    header.writeUInt32BE(0x00000d02, 0);
    header.writeUInt32BE(rows.length, 4);
    header.writeUInt32BE(4, 8);
    const body = Buffer.alloc(rows.length * 16);
    rows.flat().forEach((v, i) => body.writeFloatBE(v, i * 4));
    fs.writeFileSync(path.join(dir, 'rows.idx'), Buffer.concat([header, body]));
    const q = cli(['predict', '--model', 'blobs-model', '--input', 'rows.idx', '--output', '-', '--batch', '7']);
    expect(q.status, show(q)).toBe(0);
    expect(q.stdout.trim().split('\n').map((l) => l.split(',')[0]).slice(1)).toEqual(predicted.map(String));

    // The training label column ('kind') of a labelled file is skipped by name (issue 11).
    const k = cli(['predict', '--model', 'blobs-model', '--input', 'blobs.csv']);
    expect(k.status, show(k)).toBe(0);
    expect(k.stdout.trim().split('\n').length - 1).toBe(600);
    // Wrong width (no header to match names): a clear error, exit 1, no partial output file left behind.
    fs.writeFileSync(path.join(dir, 'five.csv'), fs.readFileSync(train, 'utf8').split('\n').slice(1).join('\n'));
    const w = cli(['predict', '--model', 'blobs-model', '--input', 'five.csv', '--output', 'bad.csv']);
    expect(w.status, show(w)).toBe(1);
    expect(w.stderr).toMatch(/rows have 5 feature columns, the model was trained on 4 \(f0, f1, f2, f3\)/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('bad.csv'))).toEqual([]);
  });

  it('predict streams a large CSV with bounded memory (200k rows under --max-old-space-size=32)', () => {
    const { Sequential, Linear, ReLU } = nn;
    save(new Sequential(new Linear(64, 32, { seed: 1 }), new ReLU(), new Linear(32, 10, { seed: 2 })), path.join(dir, 'wide-model'),
      { metadata: { task: 'classification' } });
    const big = path.join(dir, 'big.csv');
    const fd = fs.openSync(big, 'w');
    const rowsTotal = 200_000;
    const row = Array.from({ length: 64 }, (_, j) => ((j * 37) % 17 / 16).toFixed(4)).join(',');
    const block = (row + '\n').repeat(10_000);
    for (let i = 0; i < rowsTotal / 10_000; i++) fs.writeSync(fd, block);
    fs.closeSync(fd);
    const size = fs.statSync(big).size;
    // Control: holding the file's rows in memory does not fit under the same heap limit.
    const control = spawnSync(process.execPath, ['--max-old-space-size=32', '-e',
      `const l = require('fs').readFileSync(${JSON.stringify(big)}, 'utf8').split('\\n').map((r) => r.split(',').map(Number)); console.log(l.length)`], { encoding: 'utf8' });
    expect(control.status, 'the control should run out of heap').not.toBe(0);

    const rssScript = path.join(dir, 'rss.js');
    fs.writeFileSync(rssScript, "process.on('exit', () => process.stderr.write('maxRSS ' + process.resourceUsage().maxRSS + '\\n'));");
    const r = cli(['predict', '--model', 'wide-model', '--input', 'big.csv', '--output', 'big-preds.csv', '--batch', '2048'], {
      env: { NODE_OPTIONS: `--max-old-space-size=32 --require ${rssScript}` },
    });
    expect(r.status, show(r)).toBe(0);
    const maxRssMb = Number(/maxRSS (\d+)/.exec(r.stderr)![1]) / 1024;
    console.log(`predict on ${rowsTotal} rows (${(size / 1e6).toFixed(1)} MB CSV): max RSS ${maxRssMb.toFixed(0)} MB with a 32 MB heap limit`);
    // Holding the input (90 MB of text, 51 MB as float32) would need well over 150 MB on top of Node's own ~50-60 MB.
    expect(maxRssMb).toBeLessThan(150);
    // Count output rows without loading the file at once.
    const out = fs.readFileSync(path.join(dir, 'big-preds.csv'));
    let newlines = 0;
    for (const b of out) if (b === 10) newlines++;
    expect(newlines - 1).toBe(rowsTotal);
  });

  it('exports a trained model to ONNX', async () => {
    const r = cli(['export', '--model', 'blobs-model', '--onnx', 'blobs.onnx']);
    expect(r.status, show(r)).toBe(0);
    const { importModel } = await import('../lib/io/onnx');
    const imported = await importModel(path.join(dir, 'blobs.onnx'));
    const original = load(path.join(dir, 'blobs-model'));
    const x = new Tensor(Float32Array.from([3, 0, 0, 0, 0, 3, 0, 0]), [2, 4]);
    const a = original.predict(x).data;
    const b = imported.predict(x).data;
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 5);
  });

  it('checkpoints every epoch and resumes an interrupted run', () => {
    const base = ['train', '--data', 'blobs.csv', '--label-column', 'kind', '--layers', '8', '--lr', '0.01', '--seed', '5', '-q'];
    const a = cli([...base, '--epochs', '2', '--checkpoint-dir', 'ck', '--out', 'part']);
    expect(a.status, show(a)).toBe(0);
    expect(readModelInfo(path.join(dir, 'ck')).epoch).toBe(2);
    const b = cli([...base, '--epochs', '4', '--resume', 'ck', '--out', 'resumed']);
    expect(b.status, show(b)).toBe(0);
    const c = cli([...base, '--epochs', '4', '--out', 'straight']);
    expect(c.status, show(c)).toBe(0);
    const w1 = load(path.join(dir, 'resumed')).namedParameters();
    const w2 = load(path.join(dir, 'straight')).namedParameters();
    w1.forEach(([name, t], i) => expect(Array.from(t.data), name).toEqual(Array.from(w2[i][1].data)));
  });
});

describe('reliability (issue 10 items 6, 15, 16; issue 11 EBADF)', () => {
  const { Sequential, Linear, ReLU } = nn;
  const rowsOf = (n: number, cols: number, start = 0): string[] =>
    Array.from({ length: n }, (_, i) => Array.from({ length: cols }, (_, j) => (((i + start) * 7 + j) % 17) / 4).join(','));
  let model4 = '';
  beforeAll(() => {
    model4 = path.join(dir, 'rel-model');
    save(new Sequential(new Linear(4, 8, { seed: 1 }), new ReLU(), new Linear(8, 3, { seed: 2 })), model4,
      { inputShape: [4], metadata: { task: 'classification', featureNames: ['id', '2020', '2021', '2022'] } });
  });

  it('predict: a typo in the first row is an error naming line and column (it used to become a header, shifting every row)', () => {
    const rows = rowsOf(5, 4);
    rows[0] = '0.5x' + rows[0].slice(rows[0].indexOf(','));
    fs.writeFileSync(path.join(dir, 'typo.csv'), rows.join('\n') + '\n');
    const r = cli(['predict', '--model', model4, '--input', 'typo.csv', '--output', 'typo-preds.csv']);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(/csv: typo\.csv: line 1, column 1: '0\.5x' is not a number, but 3 other cell\(s\) of the first line are numbers/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('typo-preds'))).toEqual([]);
    // A header naming the model's saved columns (some numeric) is a header; --header forces one.
    fs.writeFileSync(path.join(dir, 'named.csv'), ['id,2020,2021,2022', ...rowsOf(6, 4)].join('\n') + '\n');
    const n = cli(['predict', '--model', model4, '--input', 'named.csv']);
    expect(n.status, show(n)).toBe(0);
    expect(n.stdout.trim().split('\n').length).toBe(7);
    fs.writeFileSync(path.join(dir, 'other-header.csv'), ['x,1,2,3', ...rowsOf(6, 4)].join('\n') + '\n');
    expect(cli(['predict', '--model', model4, '--input', 'other-header.csv']).status).toBe(1);
    const h = cli(['predict', '--model', model4, '--input', 'other-header.csv', '--header']);
    expect(h.status, show(h)).toBe(0);
    expect(h.stdout.trim().split('\n').length).toBe(7);
  });

  it('predict: Infinity and 1e39 (float32 overflow) are rejected naming file, line and column (they gave NaN probabilities, exit 0)', () => {
    for (const [v, what] of [['Infinity', 'is not a finite number'], ['1e39', 'overflows float32']]) {
      const rows = rowsOf(5, 4);
      rows[3] = rows[3].replace(/,[^,]+$/, `,${v}`);
      fs.writeFileSync(path.join(dir, 'inf.csv'), rows.join('\n') + '\n');
      const r = cli(['predict', '--model', model4, '--input', 'inf.csv']);
      expect(r.status, show(r)).toBe(1);
      expect(r.stderr).toContain(`csv: inf.csv: line 4, column 4: '${v}' ${what}`);
      expect(r.stdout).not.toMatch(/NaN/);
    }
    // The same rule for IDX input: a float32 Infinity at row 2, value 3.
    const header = Buffer.alloc(12);
    header.writeUInt32BE(0x00000d02, 0);
    header.writeUInt32BE(3, 4);
    header.writeUInt32BE(4, 8);
    const body = Buffer.alloc(3 * 16);
    body.writeFloatBE(Infinity, (4 + 2) * 4);
    fs.writeFileSync(path.join(dir, 'inf.idx'), Buffer.concat([header, body]));
    const q = cli(['predict', '--model', model4, '--input', 'inf.idx']);
    expect(q.status, show(q)).toBe(1);
    expect(q.stderr).toContain('predict: inf.idx: row 2, value 3 is Infinity, not a finite float32 number');
  });

  it('predict: a truncated .gz input names the file (CSV and IDX)', () => {
    const gz = zlib.gzipSync(Buffer.from(rowsOf(20000, 4).join('\n') + '\n'));
    fs.writeFileSync(path.join(dir, 'cut.csv.gz'), gz.subarray(0, gz.length >> 1));
    const r = cli(['predict', '--model', model4, '--input', 'cut.csv.gz', '--output', 'cut-preds.csv']);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(/myelin: error: csv: cut\.csv\.gz: corrupt or truncated gzip data: unexpected end of file/);
    const header = Buffer.alloc(12);
    header.writeUInt32BE(0x00000d02, 0);
    header.writeUInt32BE(1000, 4);
    header.writeUInt32BE(4, 8);
    const idx = zlib.gzipSync(Buffer.concat([header, Buffer.alloc(16000)]));
    fs.writeFileSync(path.join(dir, 'cut.idx.gz'), idx.subarray(0, idx.length - 10));
    const q = cli(['predict', '--model', model4, '--input', 'cut.idx.gz']);
    expect(q.status, show(q)).toBe(1);
    expect(q.stderr).toMatch(/readIdx: cut\.idx\.gz: corrupt gzip data: unexpected end of file/);
  });

  it('predict: an error after output was written to a file exits 1 cleanly (the descriptor was closed twice: EBADF crash)', () => {
    const rows = rowsOf(20000, 4);
    rows[15000] = '1,2';
    fs.writeFileSync(path.join(dir, 'late-error.csv'), rows.join('\n') + '\n');
    const r = cli(['predict', '--model', model4, '--input', 'late-error.csv', '--output', 'late-preds.csv', '--batch', '100']);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(/^myelin: error: csv: late-error\.csv: line 15001 has 2 columns, expected 4\n$/);
    expect(r.stderr).not.toMatch(/EBADF|Unhandled/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('late-preds'))).toEqual([]);
  });

  it('predict: --output under /proc is refused; an existing FIFO is written in place, not replaced by a file', async () => {
    fs.writeFileSync(path.join(dir, 'ok.csv'), rowsOf(3, 4).join('\n') + '\n');
    const p = cli(['predict', '--model', model4, '--input', 'ok.csv', '--output', '/proc/myelin-preds.csv']);
    expect(p.status, show(p)).toBe(2);
    expect(p.stderr).toMatch(/--output '\/proc\/myelin-preds\.csv' is under \/proc \(a kernel or device filesystem\)/);
    const fifo = path.join(dir, 'preds.fifo');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return; // no mkfifo on this platform
    const { spawn } = await import('child_process');
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
    let got = '';
    reader.stdout.on('data', (d: Buffer) => { got += d.toString(); });
    const done = new Promise<void>((resolve) => reader.on('exit', () => resolve()));
    const r = cli(['predict', '--model', model4, '--input', 'ok.csv', '--output', fifo]);
    const timer = setTimeout(() => reader.kill(), 5000);
    await done;
    clearTimeout(timer);
    expect(r.status, show(r)).toBe(0);
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
    expect(got.trim().split('\n')).toHaveLength(4);
  });

  it('train: --out and --checkpoint-dir under /proc, /sys, /dev are refused at once (mkdirSync used to hang on /proc)', () => {
    for (const [opt, target] of [['--out', '/proc/myelin-test/model'], ['--out', '/sys/myelin-model'], ['--out', '/dev/myelin-model'], ['--checkpoint-dir', '/proc/ck']]) {
      const args = ['train', '--data', 'digits', '--epochs', '1', '-q', '--out', opt === '--out' ? target : 'm-ok', ...(opt === '--out' ? [] : [opt, target])];
      const r = spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
      expect(r.status, `${target}\n${show(r)}`).toBe(2);
      expect(r.stderr).toContain(`${opt} '${target}' is under /${target.split('/')[1]} (a kernel or device filesystem): choose a directory on disk`);
    }
    expect(fs.existsSync('/dev/myelin-model')).toBe(false);
    fs.writeFileSync(path.join(dir, 'a-file'), 'x');
    const f = cli(['train', '--data', 'digits', '--epochs', '1', '-q', '--out', 'a-file/model']);
    expect(f.status, show(f)).toBe(2);
    expect(f.stderr).toMatch(/--out 'a-file\/model': '.*a-file' is not a directory/);
  });

  it('train: --layers 1000000000 and a 100,000-class label are refused with the limit and how to raise it', () => {
    const r = cli(['train', '--data', 'digits', '--layers', '1000000000', '--out', 'huge']);
    expect(r.status, show(r)).toBe(2);
    expect(r.stderr).toContain('the 64-1000000000-10 MLP would have 75,000,000,010 parameters (300.0 GB of float32 weights, about 4x that to train), more than --max-params 50,000,000: choose smaller --layers, or raise --max-params');
    const lines = ['a,b,label', ...Array.from({ length: 50 }, (_, i) => `${i % 7},${i % 5},${i % 3}`), '1,2,99999'];
    fs.writeFileSync(path.join(dir, 'many-classes.csv'), lines.join('\n') + '\n');
    const c = cli(['train', '--data', 'many-classes.csv', '--out', 'mc', '--task', 'classification']);
    expect(c.status, show(c)).toBe(2);
    expect(c.stderr).toContain('train: the largest label is 99999 (data row 51), which makes a 100000-class classifier, more than --max-classes 1000: for a regression target pass --task regression');
    expect(fs.existsSync(path.join(dir, 'mc'))).toBe(false);
    const ok = cli(['train', '--data', 'many-classes.csv', '--out', 'mc', '--task', 'classification', '--max-classes', '100000', '--layers', '4', '--epochs', '1', '-q']);
    expect(ok.status, show(ok)).toBe(0);
    expect(readModelInfo(path.join(dir, 'mc')).metadata.classes).toBe(100000);
  });

  it('train: --val-split 0.999 reports the rows actually used for training and validation', () => {
    const r = cli(['train', '--data', 'digits', '--val-split', '0.999', '--epochs', '1', '--seed', '1', '-q', '--out', 'vs']);
    expect(r.status, show(r)).toBe(0);
    // digits' training part has 1438 rows: floor(1438 * 0.999) = 1436 held out, 2 trained on.
    expect(r.stdout).toContain('MLP on digits (2 training rows + 1436 validation rows, 1 epochs, seed 1)');
    const bad = cli(['train', '--data', 'digits', '--val-split', '0.0001', '--out', 'vs2']);
    expect(bad.status, show(bad)).toBe(2);
    expect(bad.stderr).toContain('--val-split: validationSplit 0.0001 of 1438 rows leaves 0 validation and 1438 training rows');
  });

  it('train: lr 10 on digits ends with DIVERGED lines and exit 3; a healthy run has none', () => {
    const r = cli(['train', '--data', 'digits', '--lr', '10', '--seed', '1', '--out', 'diverged']);
    expect(r.status, show(r)).toBe(3);
    expect(r.stdout).toMatch(/\n {2}DIVERGED: {12}training diverged: the loss of epoch 1 \(\S+\) is \S+ times the first batch's/);
    expect(r.stderr).toMatch(/warning: training diverged/); // the progress output says it when it happens
    expect(fs.existsSync(path.join(dir, 'diverged', 'model.json'))).toBe(true); // saved for inspection
    const q = cli(['train', '--data', 'digits', '--lr', '10', '--seed', '2', '--out', 'diverged2', '-q']);
    expect(q.status, show(q)).toBe(3);
    expect(q.stderr).toBe('');
    expect(q.stdout).toContain('DIVERGED');
    const ok = cli(['train', '--data', 'digits', '--lr', '3e-3', '--epochs', '8', '--seed', '1', '--out', 'healthy', '-q']);
    expect(ok.status, show(ok)).toBe(0);
    expect(ok.stdout).not.toContain('DIVERGED');
  });
});
