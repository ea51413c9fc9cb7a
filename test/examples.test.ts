// Runs each example script (examples/*.js, against the built dist/) in a child process and checks what it prints.
import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { ensureDist } from './helpers/dist';
import { runExample, number } from './helpers/examples';

const root = path.join(__dirname, '..');
const haveFashion = fs.existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || !!process.env.MYELIN_DATA;
const skipFashion = process.env.MYELIN_SKIP_FASHION === '1';

// The examples require('..'), i.e. dist/: build it (under a lock shared with the other tests) if stale.
beforeAll(() => ensureDist());

describe('examples', () => {
  it('xor.js: the nonlinear net solves XOR, the linear stack cannot', () => {
    const r = runExample('xor.js');
    expect(r.code, r.stderr).toBe(0);
    const nlLoss = number(r.stdout, /nonlinear 2-8-1 \(tanh\):\s+loss ([\d.]+)/);
    const nlAcc = number(r.stdout, /nonlinear 2-8-1 \(tanh\):.*accuracy ([\d.]+)/);
    const linLoss = number(r.stdout, /linear 2-8-1 \(no activation\):\s+loss ([\d.]+)/);
    const linAcc = number(r.stdout, /linear 2-8-1 \(no activation\):.*accuracy ([\d.]+)/);
    expect(nlAcc, r.stdout).toBe(1);
    expect(nlLoss, r.stdout).toBeLessThan(0.05);
    expect(linAcc, r.stdout).toBeLessThan(1);
    expect(linLoss, r.stdout).toBeGreaterThan(0.5);
  });

  it('digits.js (npm run demo): prints per-epoch lines and a test accuracy >= 0.95', () => {
    const r = runExample('digits.js');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Epoch 25\/25 - .* valAccuracy \d\.\d{4}/m);
    expect(r.stdout).toContain('Total parameters: 9,610');
    expect(number(r.stdout, /test accuracy: ([\d.]+)/), r.stdout).toBeGreaterThanOrEqual(0.95);
  });

  it('regression.js: final test MSE is far below the target variance', () => {
    const r = runExample('regression.js');
    expect(r.code, r.stderr).toBe(0);
    const variance = number(r.stdout, /target variance: ([\d.]+)/);
    const mse = number(r.stdout, /final MSE: ([\d.]+)/);
    expect(mse, r.stdout).toBeLessThan(0.05 * variance);
  });

  it('fashion-mnist.js: reports a missing dataset with the apt-get hint and exit code 2', () => {
    const r = runExample('fashion-mnist.js', ['--dir', path.join(root, 'no-such-dir')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('dataset not found');
    expect(r.stderr).toContain('apt-get install dataset-fashion-mnist');
  });

  it.skipIf(skipFashion)('fashion-mnist.js: trains on a subset and prints the test accuracy', () => {
    if (!haveFashion) {
      throw new Error('Fashion-MNIST is not installed: `apt-get install dataset-fashion-mnist` (or MYELIN_SKIP_FASHION=1)');
    }
    const r = runExample('fashion-mnist.js', ['--epochs', '1', '--limit', '6000']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('6000 train / 6000 test images');
    expect(number(r.stdout, /test accuracy: ([\d.]+)/), r.stdout).toBeGreaterThan(0.7);
  });

  it('fashion examples: a bad option exits 2 with a message naming it', () => {
    const r = runExample('fashion-cnn.js', ['--epocs', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--epocs'");
    const r2 = runExample('fashion-mnist.js', ['--epochs', 'two']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain("--epochs must be a positive integer, got 'two'");
  });

  it('fashion-cnn.js: reports a missing dataset with exit code 2', () => {
    const r = runExample('fashion-cnn.js', ['--dir', path.join(root, 'no-such-dir')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('dataset not found');
  });

  it.skipIf(skipFashion)('fashion-cnn.js: trains the CNN on a subset of the images and prints the test accuracy', () => {
    if (!haveFashion) {
      throw new Error('Fashion-MNIST is not installed: `apt-get install dataset-fashion-mnist` (or MYELIN_SKIP_FASHION=1)');
    }
    const r = runExample('fashion-cnn.js', ['--epochs', '1', '--limit', '2000']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('2000 train / 2000 test images [1, 28, 28]');
    expect(number(r.stdout, /test accuracy: ([\d.]+)/), r.stdout).toBeGreaterThan(0.6);
  });
});
