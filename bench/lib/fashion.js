// Fashion-MNIST training set for the epoch case: myelin's loader if the data is installed, else synthetic.
'use strict';
const fs = require('fs');
const { randomArray, randomLabels, firstLine } = require('./cases');

const DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** Normalises whatever shape the loader returns to { x: Float32Array [n*784], y: Int32Array, n }. */
function normalise(d) {
  const part = d && d.train ? d.train : d;
  if (!part) return null;
  let x = part.x !== undefined ? part.x : part.images;
  let y = part.y !== undefined ? part.y : part.labels;
  if (x && !(x instanceof Float32Array) && x.data instanceof Float32Array) x = x.data;
  if (y && !(y instanceof Int32Array)) y = Int32Array.from(y.data !== undefined ? y.data : y);
  if (!(x instanceof Float32Array) || !(y instanceof Int32Array) || x.length !== y.length * 784) return null;
  return { x, y, n: y.length };
}

/** Returns { x, y, n, source } where source says real or synthetic (and why). */
async function loadFashion(ctx) {
  if (ctx.fashionCache) return ctx.fashionCache;
  const dir = ctx.opts.fashionDir || DEFAULT_DIR;
  let reason = `no data at ${dir}`;
  const loader = ctx.myelin.data && ctx.myelin.data.loadFashionMnist;
  if (fs.existsSync(dir)) {
    if (typeof loader !== 'function') reason = 'data.loadFashionMnist not in this build';
    else {
      try {
        let d;
        try {
          d = normalise(await loader({ dir, split: 'train' }));
        } catch {
          d = normalise(await loader({ dir }));
        }
        if (d) {
          ctx.fashionCache = { ...d, real: true, source: `real Fashion-MNIST train set (${d.n} samples, ${dir})` };
          return ctx.fashionCache;
        }
        reason = 'data.loadFashionMnist returned an unexpected shape';
      } catch (e) {
        reason = `data.loadFashionMnist failed: ${firstLine(e)}`;
      }
    }
  }
  const n = 60000;
  ctx.fashionCache = { x: randomArray(n * 784, 42, 0, 1), y: randomLabels(n, 10, 43), n, real: false, source: `synthetic data of Fashion-MNIST shape (${n} samples; ${reason})` };
  return ctx.fashionCache;
}

module.exports = { loadFashion };
