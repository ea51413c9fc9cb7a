// Paired, interleaved blocks against a long-lived peer process: each peer block runs right next to one of
// myelin's (alternating which goes first), so a change of machine load hits both sides of a pair and the
// per-pair ratio cancels it. Wall clock and process CPU time (user + sys) are recorded for every block.
'use strict';
const { spawn } = require('child_process');
const readline = require('readline');
const { performance } = require('perf_hooks');
const { summarize } = require('./stats');

/**
 * A child process that answers each request line with one JSON line (bench/peers/pytorch_cnn.py --serve).
 * start() resolves with its first line (the ready message); request(line) with the answer; close() ends it.
 */
class LinePeer {
  constructor(cmd, args, env) {
    this.child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.waiting = [];
    this.stderr = '';
    this.child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-2000);
    });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const w = this.waiting.shift();
      if (w) w.resolve(JSON.parse(line));
    });
    const fail = (why) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${why}: ${this.stderr.trim().split('\n').slice(-2).join(' | ')}`));
    };
    this.child.on('exit', (code) => fail(`peer exited ${code}`));
    this.child.on('error', (e) => fail(e.message));
  }

  next() {
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  start() {
    return this.next();
  }

  async request(line) {
    const answer = this.next();
    this.child.stdin.write(`${line}\n`);
    const r = await answer;
    if (r.error) throw new Error(r.error);
    return r;
  }

  close() {
    if (this.child.exitCode === null) this.child.stdin.end('quit\n');
  }
}

/** Wall and CPU seconds per call of fn over a block of n calls. */
function timeLocal(fn, n) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  const wall = (performance.now() - t0) / 1e3 / n;
  const d = process.cpuUsage(c0);
  return { wall, cpu: (d.user + d.system) / 1e6 / n };
}

const half = (s) => s.iqr / 2 / s.median;

/**
 * Runs `pairs` rounds; in each, every peer configuration's block is paired with a block of fn (order
 * alternating by round and configuration). configs: [{ name, run: async (steps) => { wall, cpu } (seconds per
 * call) }]. Steps per block: enough for targetSec at each side's warmed-up speed (at least minSteps).
 * Returns { myelin: { wall, cpu } summaries, configs: [{ name, wall, cpu, ratioWall, ratioCpu }] } where the
 * ratios are peer time / myelin time per pair, summarised (median, quartiles).
 */
async function pairedBlocks(fn, configs, { pairs, targetSec, warmup = 1, minSteps = 3 }) {
  const steps = (perCall) => Math.max(minSteps, Math.ceil(targetSec / perCall));
  fn();
  const mine = steps(timeLocal(fn, 2).wall);
  for (let w = 0; w < warmup; w++) timeLocal(fn, mine);
  const theirs = [];
  for (const c of configs) {
    // Two warm-up blocks: the first call builds oneDNN's primitives for every shape.
    let probe = await c.run(2);
    for (let w = 0; w < warmup; w++) probe = await c.run(steps(probe.wall));
    theirs.push(steps(probe.wall));
  }
  const mySamples = [];
  const per = configs.map(() => ({ wall: [], cpu: [], ratioWall: [], ratioCpu: [] }));
  for (let r = 0; r < pairs; r++) {
    for (let k = 0; k < configs.length; k++) {
      const peerFirst = (r + k) % 2 === 1;
      const p = peerFirst ? await configs[k].run(theirs[k]) : null;
      const m = timeLocal(fn, mine);
      const q = p || (await configs[k].run(theirs[k]));
      mySamples.push(m);
      const s = per[k];
      s.wall.push(q.wall);
      s.cpu.push(q.cpu);
      s.ratioWall.push(q.wall / m.wall);
      s.ratioCpu.push(q.cpu / m.cpu);
    }
  }
  const sum = (xs) => ({ ...summarize(xs), halfIqr: half(summarize(xs)) });
  return {
    stepsPerBlock: { myelin: mine, peer: theirs },
    myelin: { wall: sum(mySamples.map((s) => s.wall)), cpu: sum(mySamples.map((s) => s.cpu)), samples: mySamples.map((s) => s.wall) },
    configs: configs.map((c, k) => ({
      name: c.name, wall: sum(per[k].wall), cpu: sum(per[k].cpu), ratioWall: sum(per[k].ratioWall), ratioCpu: sum(per[k].ratioCpu), samples: per[k].wall,
    })),
  };
}

module.exports = { LinePeer, pairedBlocks, timeLocal };
