// Fashion-MNIST with a small residual network (ResNet basic blocks with BatchNorm) trained with augmentation
// (random crop with 2 pixels of zero padding, horizontal flip), Adam with the 1cycle learning-rate policy.
//   stem:    conv 3x3 1->16, BatchNorm, ReLU                                    [16, 28, 28]
//   block 1: basic block 16->32, stride 2 (1x1 conv + BatchNorm shortcut)       [32, 14, 14]
//   block 2: basic block 32->64, stride 2 (1x1 conv + BatchNorm shortcut)       [64, 7, 7]
//   head:    global average pool, linear 64->10
// bench/peers/pytorch_resnet.py trains the same network with the same settings in PyTorch (the accuracy reference).
// The dataset is read from --dir / MYELIN_DATA / /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist).
// Usage: node examples/fashion-resnet.js [--dir DIR] [--epochs N] [--width W] [--limit ROWS] [--save DIR]
'use strict';
const myelin = require('..');
const { nn, data, fit, evaluate, optim } = myelin;
const { loadImages, standardizePixels } = require('./fashion-cnn');

/** The settings shared with the PyTorch reference (bench/peers/pytorch_resnet.py). */
const SETTINGS = { epochs: 6, width: 16, batchSize: 128, maxLr: 4e-3, padding: 2, flip: true };

/** A ResNet basic block: conv-BN-ReLU-conv-BN plus a shortcut (1x1 conv + BN when the shape changes), then ReLU. */
function basicBlock(cin, cout, stride) {
  const body = [
    new nn.Conv2d(cin, cout, 3, { stride, padding: 1, bias: false }), new nn.BatchNorm2d(cout), new nn.ReLU(),
    new nn.Conv2d(cout, cout, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(cout),
  ];
  const shortcut = stride === 1 && cin === cout
    ? null
    : new nn.Sequential(new nn.Conv2d(cin, cout, 1, { stride, bias: false }), new nn.BatchNorm2d(cout));
  return new nn.ResidualBlock(body, { shortcut });
}

/** The network (PyTorch's default init, drawn from `seed`); `width` is the stem's channels (blocks: 2x, 4x). */
function fashionResnet(seed = 0, width = SETTINGS.width) {
  const w = width;
  return new nn.Sequential(
    new nn.Conv2d(1, w, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(w), new nn.ReLU(),
    basicBlock(w, 2 * w, 2),
    basicBlock(2 * w, 4 * w, 2),
    new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Linear(4 * w, 10),
    { seed },
  );
}

/** Trains `model` on `train` with the example's settings (augmentation, Adam, 1cycle); returns fit's history. */
function train(model, trainSet, { epochs = SETTINGS.epochs, seed = 1, verbose = 1 } = {}) {
  return fit(model, trainSet, {
    epochs, batchSize: SETTINGS.batchSize, optimizer: 'adam', lr: SETTINGS.maxLr, seed, verbose,
    transform: data.imageAugmenter({ padding: SETTINGS.padding, flip: SETTINGS.flip, seed: seed + 1 }),
    callbacks: [new optim.OneCycleLR({ maxLr: SETTINGS.maxLr })],
  });
}

async function main() {
  const { args, fashion } = loadImages(process.argv.slice(2), 'fashion-resnet', { epochs: SETTINGS.epochs, extra: { save: { type: 'string' }, width: { type: 'string' } } });
  const width = args.width === undefined ? SETTINGS.width : Number(args.width);
  if (!Number.isInteger(width) || width < 1) {
    console.error(`fashion-resnet example: --width must be a positive integer, got ${args.width}`);
    process.exit(2);
  }
  const info = myelin.info();
  console.log(`fashion-resnet: ${fashion.train.n} train / ${fashion.test.n} test images [1, 28, 28] from ${fashion.dir}, ${info.backend} backend`);
  standardizePixels(fashion.train, [fashion.test]);
  const model = fashionResnet(0, width);
  console.log(`parameters: ${model.parameters().reduce((s, p) => s + p.size, 0)}`);
  const started = Date.now();
  await train(model, fashion.train, { epochs: args.epochs });
  const seconds = (Date.now() - started) / 1000;
  model.eval();
  const { loss, accuracy } = evaluate(model, fashion.test);
  console.log(`trained ${args.epochs} epochs in ${seconds.toFixed(1)}s (${Math.round((fashion.train.n * args.epochs) / seconds)} samples/s)`);
  console.log(`test loss: ${loss.toFixed(4)}`);
  console.log(`test accuracy: ${accuracy.toFixed(4)}`);
  if (args.save) {
    myelin.save(model, args.save);
    console.log(`saved to ${args.save}`);
  }
}

module.exports = { SETTINGS, basicBlock, fashionResnet, train };

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
