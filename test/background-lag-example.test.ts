// examples/background-lag.js runs (small): both phases serve requests while training, and the background run trains the same model as the foreground one.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ensureDist, ROOT } from './helpers/dist';

beforeAll(() => ensureDist());

describe('examples/background-lag.js', () => {
  it('serves requests during foreground and background training; both reach the same validation accuracy (same seed)', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'examples', 'background-lag.js'), '--limit', '1500', '--json'], {
      cwd: ROOT, encoding: 'utf8', timeout: 240_000, env: { ...process.env, FORCE_COLOR: '0' },
    });
    if (r.status === 2) throw new Error(`the example needs the Fashion-MNIST files (apt-get install dataset-fashion-mnist): ${r.stderr}`);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { results: { phase: string; requests: number; failedRequests: number; valAccuracy: number | null; lagP99Ms: number }[] };
    expect(out.results.map((p) => p.phase)).toEqual(['idle', 'foreground', 'background']);
    for (const p of out.results) {
      expect(p.requests).toBeGreaterThan(0);
      expect(p.failedRequests).toBe(0);
      expect(Number.isFinite(p.lagP99Ms)).toBe(true);
    }
    expect(out.results[0].valAccuracy).toBeNull();
    expect(out.results[2].valAccuracy).toBe(out.results[1].valAccuracy);
    expect(out.results[1].valAccuracy).toBeGreaterThan(0.3);
  }, 240_000);
});
