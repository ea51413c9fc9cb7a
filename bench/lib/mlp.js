// Builds the benchmark networks (784-256-128-10 MLP, XOR 2-8-1) with myelin's public API.
'use strict';

/** The parts of the public API the benchmark uses; throws naming whatever the build lacks. */
function api(m) {
  const nn = m.nn || {};
  const optim = m.optim || {};
  const pick = (what, ...cands) => {
    const f = cands.find((c) => typeof c === 'function');
    if (!f) throw new Error(`bench: myelin build has no ${what}`);
    return f;
  };
  return {
    Sequential: pick('nn.Sequential', nn.Sequential, m.Sequential),
    Linear: pick('nn.Linear', nn.Linear, m.Linear),
    ReLU: pick('nn.ReLU', nn.ReLU, m.ReLU),
    Tanh: pick('nn.Tanh', nn.Tanh, m.Tanh),
    Sigmoid: pick('nn.Sigmoid', nn.Sigmoid, m.Sigmoid),
    crossEntropy: pick('nn.crossEntropy', nn.crossEntropy, m.crossEntropy, m.losses && m.losses.crossEntropy),
    mseLoss: pick('nn.mseLoss', nn.mseLoss, m.mseLoss, m.losses && m.losses.mseLoss),
    Adam: pick('optim.Adam', optim.Adam, m.Adam),
    SGD: pick('optim.SGD', optim.SGD, m.SGD),
    tensor: pick('tensor', m.tensor),
    noGrad: typeof m.noGrad === 'function' ? m.noGrad : null,
    fit: typeof m.fit === 'function' ? m.fit : m.train && typeof m.train.fit === 'function' ? m.train.fit : null,
  };
}

/** Dense ReLU MLP with the given layer sizes (no activation after the last layer). */
function buildMlp(a, sizes, seed) {
  const layers = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new a.Linear(sizes[i], sizes[i + 1], { seed: seed + i }));
    if (i + 2 < sizes.length) layers.push(new a.ReLU());
  }
  return new a.Sequential(...layers);
}

/** XOR network 2-8-1: Linear, Tanh, Linear, Sigmoid. */
function buildXor(a, seed) {
  return new a.Sequential(new a.Linear(2, 8, { seed }), new a.Tanh(), new a.Linear(8, 1, { seed: seed + 1 }), new a.Sigmoid());
}

/** One optimisation step: zero grads, forward, loss, backward, update. */
function trainStep(model, opt, x, y, lossFn) {
  opt.zeroGrad();
  const loss = lossFn(model.forward(x), y);
  loss.backward();
  opt.step();
  return loss;
}

/** Inference forward pass the way a user calls it: model.predict, else forward under noGrad. */
function predictor(a, model) {
  if (typeof model.predict === 'function') return (x) => model.predict(x);
  if (a.noGrad) return (x) => a.noGrad(() => model.forward(x));
  return (x) => model.forward(x);
}

module.exports = { api, buildMlp, buildXor, trainStep, predictor };
