// Fashion-MNIST loader: the four IDX files from a directory (option > MYELIN_DATA env > Debian default).
import * as fs from 'fs';
import * as path from 'path';
import { readIdx, IdxArray } from './idx';
import { LabeledDataset } from './split';
import { Tensor } from '../tensor';

/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** The ten class names, indexed by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

const FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

const SIDE = 28;
const FEATURES = 784; // SIDE * SIDE

/** Options of data.loadFashionMnist: the directory of the IDX files (default $MYELIN_DATA, then Debian's dataset-fashion-mnist), limit, normalize and shape. */
export interface FashionMnistOptions {
  /**
   * Directory holding {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz. Precedence: this option,
   * then the MYELIN_DATA environment variable (a directory holding a fashion-mnist/ folder, or the
   * files themselves), then /usr/share/datasets/fashion-mnist.
   */
  dir?: string;
  /** Keep only the first `limit` rows of the train part and of the test part. */
  limit?: number;
  /** Scale pixels from 0..255 to [0, 1] (default true); false keeps 0..255 as float32. */
  normalize?: boolean;
  /**
   * 'flat' (default): x is a Float32Array of [n, 784] rows. 'image': x is a Tensor [n, 1, 28, 28]
   * (NCHW, one channel) for convolutional networks; fit and evaluate take it as it is.
   */
  shape?: 'flat' | 'image';
}

/** One part of Fashion-MNIST as images: x is a Tensor [n, 1, 28, 28] (same pixels as the flat form). */
export interface FashionMnistImageSet {
  x: Tensor;
  y: Int32Array;
  n: number;
  features: 784;
  /** The shape of one sample. */
  shape: [1, 28, 28];
}

/** loadFashionMnist({ shape: 'image' }): train and test as [n, 1, 28, 28] tensors. */
export interface FashionMnistImages extends Omit<FashionMnistData, 'train' | 'test'> {
  train: FashionMnistImageSet;
  test: FashionMnistImageSet;
}

/** What data.loadFashionMnist returns: train and test parts, 784 features, 10 classes and their names. */
export interface FashionMnistData {
  /** x is float32 [n, 784] row-major, y Int32Array labels 0..9. */
  train: LabeledDataset;
  test: LabeledDataset;
  features: 784;
  classes: 10;
  classNames: readonly string[];
  /** The directory the files were read from. */
  dir: string;
}

/**
 * The directories loadFashionMnist looks in, most preferred first (only the first existing one is used).
 * @param dir a directory given by the caller: then the only one searched.
 * @returns [dir]; else [$MYELIN_DATA/fashion-mnist, $MYELIN_DATA] when MYELIN_DATA is set; else the default data directory.
 * @example data.fashionMnistSearchDirs('/data/fmnist') // ['/data/fmnist']
 */
export function fashionMnistSearchDirs(dir?: string): string[] {
  if (dir !== undefined) return [dir];
  const env = process.env.MYELIN_DATA;
  if (env !== undefined && env !== '') return [path.join(env, 'fashion-mnist'), env];
  return [FASHION_MNIST_DEFAULT_DIR];
}

function findDir(candidates: string[]): string | null {
  for (const d of candidates) {
    if (Object.values(FILES).every((f) => fs.existsSync(path.join(d, f)))) return d;
  }
  return null;
}

function imagesToFloat(images: IdxArray, labels: IdxArray, file: string, limit: number, normalize: boolean): LabeledDataset {
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || images.shape[1] !== SIDE || images.shape[2] !== SIDE) {
    throw new Error(
      `loadFashionMnist: ${file}: expected uint8 images of shape [n, 28, 28], got ${images.dtype} [${images.shape.join(', ')}]`,
    );
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1 || labels.shape[0] !== images.shape[0]) {
    throw new Error(
      `loadFashionMnist: labels for ${file}: expected uint8 [${images.shape[0]}], got ${labels.dtype} [${labels.shape.join(', ')}]`,
    );
  }
  const n = Math.min(images.shape[0], limit);
  const scale = normalize ? 1 / 255 : 1;
  const src = images.data;
  const x = new Float32Array(n * FEATURES);
  for (let i = 0; i < x.length; i++) x[i] = src[i] * scale;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = labels.data[i];
    if (label > 9) throw new Error(`loadFashionMnist: labels for ${file}: label ${label} at row ${i} is out of range [0, 10)`);
    y[i] = label;
  }
  return { x, y, n, features: FEATURES };
}

/**
 * Loads Fashion-MNIST (60,000 train + 10,000 test 28x28 grayscale images, 10 classes) from IDX files.
 * Throws an Error naming the directories it looked in and how to get the files when they are missing.
 * @param options dir (default: $MYELIN_DATA/fashion-mnist or $MYELIN_DATA when that is set, else /usr/share/datasets/fashion-mnist), limit (rows kept per part, default all), normalize (pixels to [0, 1], default true), shape ('flat' [n, 784] default, or 'image' [n, 1, 28, 28]).
 * @returns the train and test parts (x, y Int32Array labels 0..9, n, features).
 * @throws Error when shape is not 'flat' or 'image', limit is below 1, the files are not found (naming the directories searched and how to get them), or a file is corrupt or holds a label out of range.
 * @example
 * ```ts
 * const { train, test } = data.loadFashionMnist({ limit: 1000 });
 * ```
 */
export function loadFashionMnist(options: FashionMnistOptions & { shape: 'image' }): FashionMnistImages;
export function loadFashionMnist(options?: FashionMnistOptions): FashionMnistData;
export function loadFashionMnist(options: FashionMnistOptions = {}): FashionMnistData | FashionMnistImages {
  const shape = options.shape ?? 'flat';
  if (shape !== 'flat' && shape !== 'image') {
    throw new Error(`loadFashionMnist: shape must be 'flat' or 'image', got ${JSON.stringify(options.shape)}`);
  }
  const limit = options.limit ?? Infinity;
  if (!(limit >= 1)) throw new Error(`loadFashionMnist: limit must be >= 1, got ${options.limit}`);
  const candidates = fashionMnistSearchDirs(options.dir);
  const dir = findDir(candidates);
  if (dir === null) {
    throw new Error(
      `loadFashionMnist: dataset not found: looked for ${Object.values(FILES).join(', ')} in ` +
        `${candidates.join(' and ')}. Get them with \`apt-get install dataset-fashion-mnist\` (Debian/Ubuntu, ` +
        `installs to ${FASHION_MNIST_DEFAULT_DIR}) or download them from ` +
        'https://github.com/zalandoresearch/fashion-mnist and pass { dir } or set MYELIN_DATA.',
    );
  }
  const normalize = options.normalize ?? true;
  const read = (name: string): IdxArray => readIdx(path.join(dir, name));
  const trainImagesPath = path.join(dir, FILES.trainImages);
  const testImagesPath = path.join(dir, FILES.testImages);
  const train = imagesToFloat(read(FILES.trainImages), read(FILES.trainLabels), trainImagesPath, limit, normalize);
  const test = imagesToFloat(read(FILES.testImages), read(FILES.testLabels), testImagesPath, limit, normalize);
  const common = { features: FEATURES, classes: 10, classNames: FASHION_MNIST_CLASSES, dir } as const;
  if (shape === 'flat') return { train, test, ...common };
  const asImages = (d: LabeledDataset): FashionMnistImageSet => ({
    x: new Tensor(d.x, [d.n, 1, SIDE, SIDE]), y: d.y, n: d.n, features: FEATURES, shape: [1, SIDE, SIDE],
  });
  return { train: asImages(train), test: asImages(test), ...common };
}
