// CNN accuracy group: examples/fashion-resnet.js (a small ResNet with BatchNorm, augmentation, Adam + 1cycle) and the
// same network and settings in PyTorch (bench/peers/pytorch_resnet.py), trained on Fashion-MNIST in the same run, one
// after the other; the record carries both test accuracies, the gap, and the training times.
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');
const { firstLine } = require('../lib/cases');

const PYTHON = '/usr/bin/python3';
const ROOT = path.join(__dirname, '..', '..');
/** The full run's network width and epochs (the example's defaults are a quicker width 16, 6 epochs). */
const FULL = { width: 32, epochs: 20 };

/** Runs one trainer; returns { status: 'ok', accuracy, loss, seconds, ... } or { status: 'error', reason }. */
function runTrainer(cmd, args, parse) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 4 * 3600 * 1000, maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    return { status: 'error', reason: r.error ? r.error.message : `exited ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}` };
  }
  try {
    return { status: 'ok', wallSeconds: (Date.now() - started) / 1000, ...parse(r.stdout) };
  } catch (e) {
    return { status: 'error', reason: firstLine(e) };
  }
}

/** The figures examples/fashion-resnet.js prints. */
function parseExample(text) {
  const num = (re) => {
    const m = re.exec(text);
    if (!m) throw new Error(`fashion-resnet.js printed no ${re}`);
    return Number(m[1]);
  };
  return { accuracy: num(/^test accuracy: ([\d.]+)/m), loss: num(/^test loss: ([\d.]+)/m), seconds: num(/^trained \d+ epochs in ([\d.]+)s/m) };
}

function parseTorch(text) {
  const line = text.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error('pytorch_resnet.py printed no JSON');
  const j = JSON.parse(line);
  return { accuracy: j.accuracy, loss: j.loss, seconds: j.seconds, threads: j.threads, version: j.version };
}

async function runCnnAccuracy(ctx) {
  const o = ctx.opts;
  // --quick (and the test that runs it): 2,000 images, one epoch. The full run trains the configuration that meets
  // issue 13's 0.93 (width 32, 20 epochs: about an hour per library on one core of a Zen 4).
  const common = o.quick ? ['--limit', '2000', '--epochs', '1'] : ['--width', String(FULL.width), '--epochs', String(FULL.epochs)];
  if (o.fashionDir) common.push('--dir', o.fashionDir);
  ctx.log('  training examples/fashion-resnet.js (myelin, native backend) ...');
  const myelin = runTrainer(process.execPath, [path.join(ROOT, 'examples', 'fashion-resnet.js'), ...common], parseExample);
  ctx.log(`  myelin: ${myelin.status === 'ok' ? `test accuracy ${myelin.accuracy.toFixed(4)}, ${myelin.seconds.toFixed(0)} s of training` : myelin.reason}`);
  const candidates = { native: myelin };
  if (o.peers) {
    ctx.log('  training bench/peers/pytorch_resnet.py (PyTorch, 2 threads) ...');
    const torch = runTrainer(PYTHON, [path.join(ROOT, 'bench', 'peers', 'pytorch_resnet.py'), ...common, '--threads', '2'], parseTorch);
    ctx.log(`  pytorch: ${torch.status === 'ok' ? `test accuracy ${torch.accuracy.toFixed(4)}, ${torch.seconds.toFixed(0)} s of training` : torch.reason}`);
    candidates.pytorch = torch;
  }
  const rec = {
    id: 'fashion-resnet-accuracy', group: 'cnn-accuracy', chart: false,
    label: `Fashion-MNIST small ResNet, ${o.quick ? '2,000 images, 1 epoch (quick)' : `full data, width ${FULL.width}, ${FULL.epochs} epochs`}`,
    short: 'Fashion ResNet accuracy', display: { kind: 'accuracy', unit: 'test accuracy' }, candidates,
    note: `conv ${o.quick ? 16 : FULL.width} + BN, two stride-2 basic blocks (2x and 4x the stem's channels), global pool, linear 10; crop (pad 2) + flip; Adam + 1cycle (max lr 4e-3), batch 128`,
  };
  if (myelin.status === 'ok' && candidates.pytorch && candidates.pytorch.status === 'ok') rec.accuracyGap = myelin.accuracy - candidates.pytorch.accuracy;
  return [rec];
}

module.exports = { runCnnAccuracy, parseExample };
