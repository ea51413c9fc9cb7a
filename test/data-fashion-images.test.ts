// loadFashionMnist({ shape: 'image' }): the same pixels as the flat form, as [n, 1, 28, 28] tensors fit takes directly.
import * as fs from 'fs';
import { describe, expect, it } from 'vitest';
import { loadFashionMnist, FASHION_MNIST_DEFAULT_DIR } from '../lib/data/fashion-mnist';
import { Tensor } from '../lib/tensor';

describe.runIf(fs.existsSync(FASHION_MNIST_DEFAULT_DIR))('Fashion-MNIST as images', () => {
  it("shape 'image' gives [n, 1, 28, 28] tensors holding the flat rows' pixels", () => {
    const flat = loadFashionMnist({ dir: FASHION_MNIST_DEFAULT_DIR, limit: 50 });
    const img = loadFashionMnist({ dir: FASHION_MNIST_DEFAULT_DIR, limit: 50, shape: 'image' });
    for (const part of ['train', 'test'] as const) {
      expect(img[part].x).toBeInstanceOf(Tensor);
      expect(img[part].x.shape).toEqual([50, 1, 28, 28]);
      expect(img[part].shape).toEqual([1, 28, 28]);
      expect(img[part].n).toBe(50);
      expect(Array.from(img[part].x.data)).toEqual(Array.from(flat[part].x));
      expect(Array.from(img[part].y)).toEqual(Array.from(flat[part].y));
    }
    expect(img.classes).toBe(10);
  });

  it('rejects an unknown shape naming the value', () => {
    expect(() => loadFashionMnist({ dir: FASHION_MNIST_DEFAULT_DIR, limit: 1, shape: 'nchw' as never })).toThrow(
      /loadFashionMnist: shape must be 'flat' or 'image', got "nchw"/,
    );
  });
});
