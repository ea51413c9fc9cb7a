// Tests for the Fashion-MNIST loader: directory precedence, missing-data errors, and the real files.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { loadFashionMnist, FASHION_MNIST_DEFAULT_DIR } from '../lib/data/fashion-mnist';

let root = '';
const savedEnv = process.env.MYELIN_DATA;

function idx(code: number, shape: number[], values: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = code;
  header[3] = shape.length;
  shape.forEach((s, i) => header.writeUInt32BE(s, 4 + 4 * i));
  return zlib.gzipSync(Buffer.concat([header, Buffer.from(values)]));
}

/** Writes a tiny fake dataset whose every pixel equals `pixel`, so tests can tell directories apart. */
function writeFake(dir: string, pixel: number, n = 3): void {
  fs.mkdirSync(dir, { recursive: true });
  const images = new Uint8Array(n * 784).fill(pixel);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  for (const part of ['train', 't10k']) {
    fs.writeFileSync(path.join(dir, `${part}-images-idx3-ubyte.gz`), idx(0x08, [n, 28, 28], images));
    fs.writeFileSync(path.join(dir, `${part}-labels-idx1-ubyte.gz`), idx(0x08, [n], labels));
  }
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-fmnist-'));
  writeFake(path.join(root, 'opt'), 51);
  writeFake(path.join(root, 'env', 'fashion-mnist'), 102);
  writeFake(path.join(root, 'flat'), 204);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  if (savedEnv === undefined) delete process.env.MYELIN_DATA;
  else process.env.MYELIN_DATA = savedEnv;
});

describe('loadFashionMnist directory precedence', () => {
  it('uses the dir option before MYELIN_DATA', () => {
    process.env.MYELIN_DATA = path.join(root, 'env');
    const d = loadFashionMnist({ dir: path.join(root, 'opt') });
    expect(d.dir).toBe(path.join(root, 'opt'));
    expect(d.train.x[0]).toBeCloseTo(51 / 255, 6);
  });

  it('uses MYELIN_DATA/fashion-mnist, or MYELIN_DATA itself, when no option is given', () => {
    process.env.MYELIN_DATA = path.join(root, 'env');
    expect(loadFashionMnist().train.x[5]).toBeCloseTo(102 / 255, 6);
    process.env.MYELIN_DATA = path.join(root, 'flat');
    const d = loadFashionMnist({ normalize: false });
    expect(d.test.x[783]).toBe(204);
    expect(Array.from(d.test.y)).toEqual([0, 1, 2]);
  });

  it('says where it looked and how to get the files when they are missing', () => {
    const missing = path.join(root, 'nothing-here');
    expect(() => loadFashionMnist({ dir: missing })).toThrow(
      new RegExp(`dataset not found: .*in ${missing}.*apt-get install dataset-fashion-mnist`),
    );
    process.env.MYELIN_DATA = missing;
    expect(() => loadFashionMnist()).toThrow(path.join(missing, 'fashion-mnist'));
  });

  it('rejects files of the wrong shape with the file name', () => {
    const bad = path.join(root, 'bad');
    writeFake(bad, 1);
    fs.writeFileSync(path.join(bad, 'train-images-idx3-ubyte.gz'), idx(0x08, [3, 784], new Uint8Array(3 * 784)));
    expect(() => loadFashionMnist({ dir: bad })).toThrow(/train-images-idx3-ubyte\.gz: expected uint8 images of shape \[n, 28, 28\], got uint8 \[3, 784\]/);
  });
});

const haveReal = fs.existsSync(path.join(FASHION_MNIST_DEFAULT_DIR, 'train-images-idx3-ubyte.gz'));
const skipReal = process.env.MYELIN_SKIP_FASHION === '1';

describe.skipIf(skipReal)('loadFashionMnist on the real dataset', () => {
  it('loads 60k + 10k normalised images with the 10 classes', () => {
    if (!haveReal) {
      throw new Error(
        `Fashion-MNIST is not installed in ${FASHION_MNIST_DEFAULT_DIR}: run \`apt-get install dataset-fashion-mnist\` ` +
          '(or set MYELIN_SKIP_FASHION=1 to skip this test).',
      );
    }
    delete process.env.MYELIN_DATA;
    const d = loadFashionMnist({ dir: FASHION_MNIST_DEFAULT_DIR });
    expect(d.train.n).toBe(60000);
    expect(d.test.n).toBe(10000);
    expect(d.train.x.length).toBe(60000 * 784);
    expect(d.classNames[9]).toBe('Ankle boot');
    let max = 0;
    for (let i = 0; i < 784 * 100; i++) max = Math.max(max, d.test.x[i]);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.9);
    const counts = new Array(10).fill(0);
    for (const l of d.train.y) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    const limited = loadFashionMnist({ dir: FASHION_MNIST_DEFAULT_DIR, limit: 100 });
    expect(limited.train.n).toBe(100);
    expect(limited.test.n).toBe(100);
    expect(limited.train.x).toEqual(d.train.x.subarray(0, 100 * 784));
  });
});
