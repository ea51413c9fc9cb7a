#!/usr/bin/env node
// Regenerates the training-report screenshots shown in docs/reports.md (one per report kind), at 1280x800
// in headless Chromium (apt-get install chromium): docs/screenshots/report-classification.png and
// docs/screenshots/report-regression.png, with the HTML reports next to them. Needs dist/ (npm run build:ts).
'use strict';
const fs = require('fs');
const path = require('path');
const { nn, data, fit, randn } = require('..');
const { screenshot } = require('../test/helpers/chromium.js');

const out = path.join(__dirname, '..', 'docs', 'screenshots');

async function main() {
  fs.mkdirSync(out, { recursive: true });
  // Classification: the embedded digits, a 64-32-10 MLP, the last 20% of the training rows for validation.
  const digits = data.loadDigits({ split: 0.2, seed: 42 });
  const m1 = new nn.Sequential(new nn.Linear(64, 32), new nn.ReLU(), new nn.Linear(32, 10), { seed: 1 });
  await fit(m1, digits.train, {
    epochs: 15, seed: 7, validationSplit: 0.2, verbose: 0,
    report: { path: path.join(out, 'report-classification.html'), title: 'Digits: 64-32-10 MLP', dataName: 'data.loadDigits (1,438 training rows)' },
  });
  // Regression: y = 2 x0 - x1 + x2^2 / 2 + 10 on 400 random rows, cosine-decayed learning rate.
  const x = randn([400, 3], { seed: 3 });
  const y = new Float32Array(400);
  for (let i = 0; i < 400; i++) y[i] = 2 * x.data[i * 3] - x.data[i * 3 + 1] + 0.5 * x.data[i * 3 + 2] ** 2 + 10;
  const m2 = new nn.Sequential(new nn.Linear(3, 16), new nn.Tanh(), new nn.Linear(16, 1), { seed: 2 });
  const { cosineDecay } = require('..');
  await fit(m2, { x, y }, {
    epochs: 40, seed: 1, validationSplit: 0.25, verbose: 0, standardize: true,
    callbacks: [cosineDecay({ lr: 0.01, minLr: 1e-4, warmupSteps: 10 })],
    report: { path: path.join(out, 'report-regression.html'), title: 'Synthetic regression: 3-16-1 MLP', dataName: '400 rows of y = 2 x0 - x1 + x2²/2 + 10' },
  });
  for (const kind of ['classification', 'regression']) {
    screenshot(path.join(out, `report-${kind}.html`), path.join(out, `report-${kind}.png`), 1280, 800);
    console.log(`wrote docs/screenshots/report-${kind}.png`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
