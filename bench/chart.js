#!/usr/bin/env node
// Redraws the speed-up chart from a saved benchmark result without running anything:
//   node bench/chart.js [bench/results/latest.json] [bench/results/speedup.svg]
'use strict';
const fs = require('fs');
const path = require('path');
const { resultChart } = require('./lib/report');
const { writeFileAtomic } = require('./lib/atomic');

const input = path.resolve(process.argv[2] || path.join(__dirname, 'results', 'latest.json'));
const output = path.resolve(process.argv[3] || path.join(__dirname, 'results', 'speedup.svg'));
let result;
try {
  result = JSON.parse(fs.readFileSync(input, 'utf8'));
} catch (e) {
  console.error(`bench chart: cannot read the result file '${input}': ${e.message}`);
  process.exit(2);
}
writeFileAtomic(output, resultChart(result));
console.log(`wrote ${path.relative(process.cwd(), output)} from ${path.relative(process.cwd(), input)}`);
