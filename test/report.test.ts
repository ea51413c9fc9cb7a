// Training reports (fit's report option, `myelin train --report/--history`) and history.toCsv(): what the
// files say, checked against the training run that wrote them.
import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { nn, data, fit, evaluate, randn, Tensor, historyToCsv, type History } from '../lib';
import { ensureDist, DIST_CLI } from './helpers/dist';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-report-'));

/** The numbers of an SVG path's M/L commands, as [x, y] points. */
function pathPoints(d: string): [number, number][] {
  return [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** The <svg> element of one chart, found by its title text. */
function chart(html: string, title: RegExp): string {
  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
  const found = svgs.find((s) => title.test(/<text class="title"[^>]*>([^<]*)</.exec(s)?.[1] ?? ''));
  if (!found) throw new Error(`no chart titled ${title}`);
  return found;
}

function seriesPath(svg: string, name: string): string {
  const m = new RegExp(`<path class="series" data-series="${name}" d="([^"]*)"`).exec(svg);
  if (!m) throw new Error(`no series '${name}'`);
  return m[1];
}

describe('fit report: classification (digits)', () => {
  const file = path.join(tmp, 'class.html');
  let html = '';
  let history: History;
  let valAccuracy = 0;
  let valRows = 0;
  beforeAll(async () => {
    const digits = data.loadDigits({ split: 0.2, seed: 42 });
    const model = new nn.Sequential(new nn.Linear(64, 32), new nn.ReLU(), new nn.Linear(32, 10), { seed: 1 });
    history = await fit(model, digits.train, { epochs: 6, batchSize: 64, seed: 7, validationSplit: 0.2, verbose: 0, metrics: ['accuracy', 'f1Macro'], report: file });
    html = fs.readFileSync(file, 'utf8');
    const n = digits.train.n;
    valRows = Math.floor(n * 0.2);
    const f = digits.train.features;
    const val = { x: new Tensor(digits.train.x.slice((n - valRows) * f, n * f), [valRows, f]), y: digits.train.y.slice(n - valRows) };
    valAccuracy = evaluate(model, val).accuracy as number;
  }, 60_000);

  it('is one self-contained HTML file: no script, no external resource, a CSP forbidding both', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\s(src|href)=/i);
    expect(html).not.toMatch(/url\(/i);
    // The only URL is the SVG namespace.
    expect([...html.matchAll(/https?:\/\/[^\s"']+/g)].map((m) => m[0]).filter((u) => u !== 'http://www.w3.org/2000/svg')).toEqual([]);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp'))).toEqual([]); // atomic: no temp file left
  });

  it('draws the loss curves with one point per epoch, in the order of history.loss', () => {
    const svg = chart(html, /^Loss per epoch$/);
    expect(svg).toContain('>loss (crossEntropy)<');
    expect(svg).toContain('class="x-label"');
    expect(svg).toContain('>epoch<');
    const train = pathPoints(seriesPath(svg, 'training loss'));
    const val = pathPoints(seriesPath(svg, 'validation loss'));
    expect(train).toHaveLength(history.loss.length);
    expect(val).toHaveLength(history.valLoss.length);
    // Higher loss is drawn higher (smaller y): the y order of the points follows the loss order.
    for (let i = 1; i < train.length; i++) {
      expect(Math.sign(train[i - 1][1] - train[i][1])).toBe(Math.sign(history.loss[i] - history.loss[i - 1]) || 0);
      expect(train[i][0]).toBeGreaterThan(train[i - 1][0]); // epochs left to right
    }
  });

  it('draws accuracy, the f1Macro metric and the learning rate per step', () => {
    expect(pathPoints(seriesPath(chart(html, /^Accuracy per epoch$/), 'validation accuracy'))).toHaveLength(6);
    expect(pathPoints(seriesPath(chart(html, /^F1Macro per epoch$/), 'validation f1Macro'))).toHaveLength(6);
    const lr = chart(html, /^Learning rate$/);
    const steps = Math.ceil((1438 - 287) / 64);
    expect(pathPoints(seriesPath(lr, 'learning rate per step'))).toHaveLength(6 * steps);
    expect(lr).toContain('>learning rate<');
  });

  it('has a confusion matrix of the validation rows that agrees with evaluate()', () => {
    const svg = chart(html, /^Confusion matrix/);
    const cells = [...svg.matchAll(/<rect class="cell"[^>]*><title>true (\d+), predicted (\d+): (\d+) of (\d+)<\/title>/g)];
    expect(cells).toHaveLength(100);
    const total = cells.reduce((s, m) => s + Number(m[3]), 0);
    const diagonal = cells.filter((m) => m[1] === m[2]).reduce((s, m) => s + Number(m[3]), 0);
    expect(total).toBe(valRows);
    expect(diagonal / total).toBeCloseTo(valAccuracy, 10);
    expect(svg).toContain('>predicted class<');
    expect(svg).toContain('>true class<');
    expect(html).toContain(`${(valAccuracy * 100).toFixed(2)}% (${diagonal} of ${valRows} rows)`);
  });

  it('states the model, data, settings, machine and time', () => {
    expect(html).toMatch(/Linear\(64 -&gt; 32, bias\)\s+2,080 params/);
    expect(html).toContain('Total parameters: 2,410');
    expect(html).toMatch(/<th>rows<\/th><td>1,438<\/td>/);
    expect(html).toMatch(/<th>training rows per epoch<\/th><td>1,151<\/td>/);
    expect(html).toMatch(/classification: integer labels, 10 classes/);
    expect(html).toMatch(/<th>batch size<\/th><td>64<\/td>/);
    expect(html).toMatch(/<th>shuffle seed<\/th><td>7<\/td>/);
    expect(html).toMatch(/<th>optimizer<\/th><td>adam \(the default\)<\/td>/);
    expect(html).toMatch(/<th>initial learning rate<\/th><td>0.001<\/td>/);
    const cpu = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim() ?? os.cpus()[0].model;
    expect(html).toContain(`<th>CPU</th><td>${cpu}`);
    expect(html).toContain(`<th>Node.js</th><td>${process.version}</td>`);
    expect(html).toMatch(/<th>time taken<\/th><td>\d+\.\d\d s in fit/);
  });
});

describe('fit report: regression', () => {
  it('draws predicted vs true for the validation rows, with R² as computed from the predictions', async () => {
    const file = path.join(tmp, 'reg.html');
    const x = randn([300, 3], { seed: 3 });
    const y = new Float32Array(300);
    for (let i = 0; i < 300; i++) y[i] = 2 * x.data[i * 3] - x.data[i * 3 + 1] + 10;
    const model = new nn.Sequential(new nn.Linear(3, 8), new nn.Tanh(), new nn.Linear(8, 1), { seed: 2 });
    await fit(model, { x, y }, { epochs: 20, seed: 1, lr: 0.01, validationSplit: 0.2, verbose: 0, standardize: true, report: { path: file, title: 'Reg & <co>', dataName: 'synthetic' } });
    const html = fs.readFileSync(file, 'utf8');
    expect(html).toContain('<title>Reg &amp; &lt;co&gt;</title>');
    const svg = chart(html, /^Predicted vs true: 60 rows/);
    const points = [...(/<path class="points" d="([^"]*)"/.exec(svg)?.[1] ?? '').matchAll(/M(-?[\d.]+),(-?[\d.]+)h0/g)];
    expect(points).toHaveLength(60);
    expect(svg).toContain('>true value<');
    expect(svg).toContain('>predicted value<');
    expect(svg).toContain('class="identity"');
    // R² from the model's own predictions on the last 60 rows, in the target's units.
    const pred = model.predict(new Tensor(x.data.slice(240 * 3), [60, 3])).data;
    let mean = 0;
    for (let i = 240; i < 300; i++) mean += y[i] / 60;
    let res = 0;
    let tot = 0;
    for (let i = 0; i < 60; i++) { res += (pred[i] - y[240 + i]) ** 2; tot += (y[240 + i] - mean) ** 2; }
    expect(html).toContain(`<td>${(1 - res / tot).toFixed(4)}</td>`);
    expect(html).toContain('<th>data</th><td>synthetic</td>');
    expect(html).toContain('regression: 1 float target per row');
    expect(html).not.toContain('class="cell"');
  }, 60_000);
});

describe('fit report: options and errors', () => {
  const digits = data.loadDigits({ split: 0.2, seed: 1 });
  const model = (): nn.Sequential => new nn.Sequential(new nn.Linear(64, 10), { seed: 1 });

  it('refuses a missing directory, a directory, and a bad value before training', async () => {
    let epochs = 0;
    const onEpochEnd = (): void => { epochs++; };
    await expect(fit(model(), digits.train, { verbose: 0, onEpochEnd, report: path.join(tmp, 'no', 'such', 'r.html') })).rejects.toThrow(/fit: report '.*r\.html': directory '.*such' does not exist/);
    await expect(fit(model(), digits.train, { verbose: 0, onEpochEnd, report: tmp })).rejects.toThrow(/is a directory; give a file name/);
    await expect(fit(model(), digits.train, { verbose: 0, onEpochEnd, report: 3 as unknown as string })).rejects.toThrow('fit: report must be a file path');
    await expect(fit(model(), digits.train, { verbose: 0, onEpochEnd, report: { path: path.join(tmp, 'x.html'), colour: 1 } as unknown as string })).rejects.toThrow("fit: report: unknown key 'colour'");
    expect(epochs).toBe(0);
  });

  it('uses evaluationData for the matrix when given, and keeps the caller\'s callbacks', async () => {
    const file = path.join(tmp, 'eval.html');
    let ended = 0;
    await fit(model(), digits.train, { epochs: 2, verbose: 0, seed: 1, callbacks: { onTrainEnd: () => { ended++; } }, report: { path: file, evaluationData: digits.test, evaluationName: 'the test set' } });
    const html = fs.readFileSync(file, 'utf8');
    expect(ended).toBe(1);
    expect(html).toContain('computed on the test set');
    const cells = [...html.matchAll(/<title>true \d+, predicted \d+: (\d+) of/g)];
    expect(cells.reduce((s, m) => s + Number(m[1]), 0)).toBe(digits.test.n);
  });

  it('works with a data.Dataset (curves; the matrix needs evaluationData, and says so)', async () => {
    const file = path.join(tmp, 'ds.html');
    const ds = data.Dataset.fromArrays({ x: digits.train.x, y: digits.train.y, features: 64 });
    await fit(model(), ds, { epochs: 2, verbose: 0, report: file });
    const html = fs.readFileSync(file, 'utf8');
    expect(pathPoints(seriesPath(chart(html, /^Loss per epoch$/), 'training loss'))).toHaveLength(2);
    expect(html).toContain('pass report: { path, evaluationData: { x, y } }');
  });
});

describe('history.toCsv()', () => {
  it('writes one line per epoch with every recorded value, reading back to the same numbers', async () => {
    const digits = data.loadDigits({ split: 0.2, seed: 1 });
    const h = await fit(new nn.Sequential(new nn.Linear(64, 10), { seed: 1 }), digits.train, { epochs: 3, verbose: 0, validationSplit: 0.1, metrics: ['accuracy', 'f1Macro'], seed: 2 });
    const lines = h.toCsv().trimEnd().split('\n');
    expect(lines[0]).toBe('epoch,loss,accuracy,valLoss,valAccuracy,f1Macro,valF1Macro,lr,seconds');
    expect(lines).toHaveLength(4);
    const rows = lines.slice(1).map((l) => l.split(',').map(Number));
    rows.forEach((r, i) => {
      expect(r[0]).toBe(i);
      expect(r[1]).toBe(h.loss[i]);
      expect(r[4]).toBe(h.valAccuracy[i]);
      expect(r[6]).toBe(h.metrics.valF1Macro[i]);
      expect(r[8]).toBe(h.seconds[i]);
    });
    expect(historyToCsv(h)).toBe(h.toCsv());
    expect(JSON.stringify(h)).not.toContain('toCsv'); // not enumerable: checkpoints and JSON leave it out
  });

  it('quotes a metric name holding a comma, leaves missing values empty, and rejects a non-History', () => {
    const h = { epoch: [0, 1], loss: [1, 0.5], accuracy: [], valLoss: [0.9], valAccuracy: [], lr: [0.1, 0.1], seconds: [1, 1], metrics: { 'a,"b"': [3, 4] } } as unknown as History;
    expect(historyToCsv(h)).toBe('epoch,loss,valLoss,"a,""b""",lr,seconds\n0,1,0.9,3,0.1,1\n1,0.5,,4,0.1,1\n');
    expect(() => historyToCsv(null as unknown as History)).toThrow('historyToCsv: expected a History');
  });
});

describe('myelin train --report --history', () => {
  beforeAll(() => ensureDist(), 300_000);

  it('writes the report (test-set confusion matrix) and the history CSV, and names them in its output', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'cli-'));
    const out = execFileSync(process.execPath, [DIST_CLI, 'train', '--data', 'digits', '--epochs', '3', '--layers', '16', '--seed', '5', '-q',
      '--out', path.join(dir, 'model'), '--report', path.join(dir, 'run.html'), '--history', path.join(dir, 'run.csv')], { encoding: 'utf8' });
    expect(out).toContain(`report:              ${path.join(dir, 'run.html')}`);
    const csv = fs.readFileSync(path.join(dir, 'run.csv'), 'utf8').trimEnd().split('\n');
    expect(csv[0]).toBe('epoch,loss,accuracy,lr,seconds');
    expect(csv).toHaveLength(4);
    const html = fs.readFileSync(path.join(dir, 'run.html'), 'utf8');
    expect(html).toContain('<title>myelin train: 64-16-10 MLP on digits</title>');
    expect(html).toContain('computed on the test set (359 rows)');
    const acc = /test accuracy:\s+([\d.]+)%/.exec(out)?.[1];
    expect(html).toContain(`${acc}% (`);
  });

  it('on a CSV: the scatter\'s R² is the validation R2 the command prints; text classes name the matrix', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'cli-csv-'));
    const fixtures = path.join(__dirname, 'fixtures', 'tabular');
    const out = execFileSync(process.execPath, [DIST_CLI, 'train', '--data', path.join(fixtures, 'diabetes.csv'), '--layers', '16', '--epochs', '10',
      '--lr', '3e-3', '--seed', '1', '-q', '--out', path.join(dir, 'dia'), '--report', path.join(dir, 'dia.html')], { encoding: 'utf8' });
    const r2 = /validation R2:\s+(-?[\d.]+)/.exec(out)?.[1];
    expect(r2).toBeDefined();
    const html = fs.readFileSync(path.join(dir, 'dia.html'), 'utf8');
    expect(html).toMatch(new RegExp(`R² on the validation rows \\(validationSplit 0.1: the last 44 rows\\)</th><td>${r2}</td>`));
    expect(html).toContain('task regression: labels are integers');
    execFileSync(process.execPath, [DIST_CLI, 'train', '--data', path.join(fixtures, 'wine.csv'), '--layers', '8', '--epochs', '3', '--seed', '1', '-q',
      '--val-split', '0.5', '--out', path.join(dir, 'wine'), '--report', path.join(dir, 'wine.html')], { encoding: 'utf8' });
    const wine = fs.readFileSync(path.join(dir, 'wine.html'), 'utf8');
    expect(wine).toContain('<title>true class_0, predicted class_0:');
    expect([...wine.matchAll(/<rect class="cell"/g)]).toHaveLength(9);
  });

  it('refuses a --report in a missing directory before training (exit 2)', () => {
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, [DIST_CLI, 'train', '--data', 'digits', '--out', path.join(tmp, 'm2'), '--history', '/no/such/dir/h.csv'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      status = (e as { status: number }).status;
      stderr = (e as { stderr: string }).stderr;
    }
    expect(status).toBe(2);
    expect(stderr).toContain("--history '/no/such/dir/h.csv': directory '/no/such/dir' does not exist");
    expect(fs.existsSync(path.join(tmp, 'm2'))).toBe(false);
  });
});
