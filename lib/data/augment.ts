// Image augmentation for [n, C, H, W] batches: random crop with zero padding and horizontal flip, seeded (same seed, same batches).
import { Tensor, shapeToString } from '../tensor';
import { Rng, deriveSeed } from '../random';
import { checkBoolean, checkNonNegativeInt, checkOptions, checkSeed, checkTensor } from '../validate';

/** Options of data.imageAugmenter: padding for random crops, horizontal flips and seed. */
export interface AugmentOptions {
  /** Zero padding on every side before a random H x W crop (default 0: no crop). */
  padding?: number;
  /** Mirror each image left-right with probability 1/2 (default false). */
  flip?: boolean;
  /** Seed of the random draws (default: a fixed 0, so unseeded runs repeat). */
  seed?: number;
}

/** Where a batch sits in training: an augmenter draws from (seed, epoch, batch), so a resumed run repeats it. */
export interface BatchPosition {
  epoch: number;
  batch: number;
}

/**
 * Augments a batch x [n, C, H, W] (a new tensor; x is not changed): each image is padded with zeros by
 * `padding` on every side and cropped back to H x W at a random offset, and mirrored left-right with
 * probability 1/2 when `flip`. The draws come from `rng` in image order (crop offset y, x, then flip).
 * @param x a batch of images, a Tensor [n, C, H, W].
 * @param opts padding (a non-negative integer, default 0: no crop), flip (default false), seed (accepted for
 * imageAugmenter's sake; the draws here come from rng).
 * @param rng the generator of the crop offsets and flips.
 * @returns a new Tensor [n, C, H, W].
 * @throws Error when x is not a 4-D Tensor, an option is unknown, padding is not a non-negative integer, or flip
 * is not a boolean.
 * @example data.augmentImages(x, { padding: 4, flip: true }, new Rng(1))
 */
export function augmentImages(x: Tensor, opts: AugmentOptions, rng: Rng): Tensor {
  const where = 'data.augmentImages';
  checkTensor(where, 'x', x);
  if (x.ndim !== 4) throw new Error(`${where}: expected a batch of images [n, C, H, W], got ${shapeToString(x.shape)}`);
  const o = checkOptions(where, opts, ['padding', 'flip', 'seed']);
  const pad = o.padding === undefined ? 0 : checkNonNegativeInt(where, 'padding', o.padding);
  const flip = o.flip === undefined ? false : checkBoolean(where, 'flip', o.flip);
  const [n, C, H, W] = x.shape;
  const out = new Float32Array(x.size);
  const plane = H * W;
  const src = x.data;
  for (let i = 0; i < n; i++) {
    // Offset of the crop inside the padded image, minus the padding: the source shift.
    const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const mirror = flip && rng.next() < 0.5;
    for (let c = 0; c < C; c++) {
      const base = (i * C + c) * plane;
      for (let r = 0; r < H; r++) {
        const sr = r + dy;
        if (sr < 0 || sr >= H) continue; // a padded row: zeros
        const so = base + sr * W;
        const oo = base + r * W;
        for (let q = 0; q < W; q++) {
          const sq = (mirror ? W - 1 - q : q) + dx;
          if (sq >= 0 && sq < W) out[oo + q] = src[so + sq];
        }
      }
    }
  }
  return new Tensor(out, x.shape);
}

/**
 * A batch transform for fit's `transform` option: augmentImages with draws seeded by (seed, epoch, batch),
 * so the same seed gives the same augmented batches, also after resuming from a checkpoint.
 * @param opts padding (a non-negative integer, default 0), flip (default false), seed (default 0).
 * @returns (x, { epoch, batch }) => the augmented batch.
 * @throws Error (now, not at the first batch) for an unknown option, a padding that is not a non-negative
 * integer, a flip that is not a boolean, or a seed that is not an integer in [0, 2^32).
 * @example await fit(model, data, { transform: data.imageAugmenter({ padding: 4, flip: true, seed: 1 }) });
 */
export function imageAugmenter(opts: AugmentOptions = {}): (x: Tensor, at: BatchPosition) => Tensor {
  const o = checkOptions('data.imageAugmenter', opts, ['padding', 'flip', 'seed']);
  const seed = o.seed === undefined ? 0 : checkSeed('data.imageAugmenter', 'seed', o.seed);
  augmentImages(new Tensor(new Float32Array(1), [1, 1, 1, 1]), o, new Rng(0)); // checks the options now, not at the first batch
  return (x, at) => augmentImages(x, o, new Rng(deriveSeed(deriveSeed(seed, at.epoch), at.batch)));
}
