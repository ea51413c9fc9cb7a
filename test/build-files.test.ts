// binding.gyp and CMakeLists.txt compile the same kernel sources: both read native/sources.json, which lists every kernel/runtime unit.
import { execFileSync, execSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const read = (f: string): string => fs.readFileSync(path.join(root, f), 'utf8');

interface Sources { portable: string[]; avx2: string[]; avx512: string[] }
const sources = JSON.parse(read('native/sources.json')) as Sources;
const all = [...sources.portable, ...sources.avx2, ...sources.avx512];
const AVX512_FLAGS = ['-mavx512f', '-mavx512vl', '-mavx512dq', '-mavx512bw', '-mfma'];

/** Every .cc file under a directory of the repo, as repo-relative paths. */
function ccFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(path.join(root, d), { withFileTypes: true })) {
      const rel = `${d}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.cc')) out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

interface GypTarget {
  target_name: string; type?: string; sources?: string[]; cflags_cc?: string[]; dependencies?: string[];
  conditions?: [string, { cflags_cc?: string[] }][];
}

/** A target's cflags_cc when gyp's target_arch is `arch`: its own plus those of the conditions that hold. */
function cflagsFor(t: GypTarget, arch: 'x64' | 'arm64'): string[] {
  const own = t.cflags_cc ?? [];
  const conditional = (t.conditions ?? []).flatMap(([cond, then]) => {
    const m = /^target_arch\s*==\s*'(\w+)'$/.exec(cond);
    expect(m, `binding.gyp condition '${cond}' is not a target_arch test`).not.toBeNull();
    return m![1] === arch ? then.cflags_cc ?? [] : [];
  });
  return [...own, ...conditional];
}

/** binding.gyp is JSON plus '#' comment lines. */
function parseGyp(): { targets: GypTarget[] } {
  const text = read('binding.gyp').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
  return JSON.parse(text) as { targets: GypTarget[] };
}

/** Expands gyp's <!@(cmd) / <!(cmd) command expansions the way gyp does (run in the repo root). */
function expandGyp(list: string[]): string[] {
  return list.flatMap((s) => {
    const m = /^<!@?\((.*)\)$/.exec(s);
    if (!m) return [s];
    const out = execSync(m[1], { cwd: root, encoding: 'utf8' }).trim();
    return s.startsWith('<!@') ? out.split(/\s+/).filter(Boolean) : [out];
  });
}

describe('native/sources.json', () => {
  it('lists existing files, once each', () => {
    for (const f of all) expect(fs.existsSync(path.join(root, f)), f).toBe(true);
    expect(new Set(all).size).toBe(all.length);
    expect(all).not.toContain('native/binding/addon.cc');
  });

  it('lists every .cc under native/kernels and native/runtime', () => {
    const onDisk = [...ccFiles('native/kernels'), ...ccFiles('native/runtime')].sort();
    expect([...all].sort()).toEqual(onDisk);
  });

  it('puts exactly the *_avx2.cc units in the avx2 group and the *_avx512.cc units in the avx512 group', () => {
    for (const f of sources.avx2) expect(f.endsWith('_avx2.cc'), f).toBe(true);
    for (const f of sources.avx512) expect(f.endsWith('_avx512.cc'), f).toBe(true);
    expect(sources.avx512.length).toBeGreaterThan(0);
    for (const f of sources.portable) {
      expect(f.endsWith('_avx2.cc') || f.endsWith('_avx512.cc'), f).toBe(false);
    }
  });
});

describe('binding.gyp', () => {
  const gyp = parseGyp();
  const byName = new Map(gyp.targets.map((t) => [t.target_name, t]));

  it('builds the addon from addon.cc + the portable list and the avx2 list in a -mavx2 -mfma library', () => {
    const addon = byName.get('myelin');
    const avx2 = byName.get('myelin_avx2');
    expect(addon).toBeDefined();
    expect(avx2).toBeDefined();
    expect(avx2!.type).toBe('static_library');
    expect(cflagsFor(avx2!, 'x64')).toEqual(expect.arrayContaining(['-mavx2', '-mfma']));
    expect(cflagsFor(addon!, 'x64')).not.toContain('-mavx2');
    expect(addon!.dependencies).toContain('myelin_avx2');
    expect(addon!.dependencies).toContain('myelin_avx512');
    // Both read sources.json (no hand-written kernel lists).
    expect(read('binding.gyp')).toMatch(/require\('\.\/native\/sources\.json'\)\.portable/);
    expect(read('binding.gyp')).toMatch(/require\('\.\/native\/sources\.json'\)\.avx2/);
    expect(read('binding.gyp')).toMatch(/require\('\.\/native\/sources\.json'\)\.avx512/);
    const addonSources = expandGyp(addon!.sources ?? []);
    expect(addonSources.sort()).toEqual(['native/binding/addon.cc', 'native/binding/plan.cc', ...sources.portable].sort());
    expect(expandGyp(avx2!.sources ?? []).sort()).toEqual([...sources.avx2].sort());
  });

  it('builds the avx512 list in its own static library with the AVX-512 flags, and nothing else with them', () => {
    const avx512 = byName.get('myelin_avx512');
    expect(avx512).toBeDefined();
    expect(avx512!.type).toBe('static_library');
    expect(cflagsFor(avx512!, 'x64')).toEqual(expect.arrayContaining(AVX512_FLAGS));
    expect(expandGyp(avx512!.sources ?? []).sort()).toEqual([...sources.avx512].sort());
    for (const t of gyp.targets) {
      if (t.target_name === 'myelin_avx512') continue;
      expect(cflagsFor(t, 'x64').some((f) => f.startsWith('-mavx512')), t.target_name).toBe(false);
    }
  });

  it('adds the x86 ISA flags only when target_arch is x64 (an arm64 build gets none)', () => {
    for (const t of gyp.targets) {
      expect(cflagsFor(t, 'arm64').filter((f) => /^-m(avx|fma|sse)/.test(f)), t.target_name).toEqual([]);
    }
    expect(cflagsFor(byName.get('myelin_avx2')!, 'x64')).toContain('-mavx2');
  });
});

describe('CMakeLists.txt', () => {
  const text = read('CMakeLists.txt');

  it('reads sources.json, builds myelin_core and the tests subdirectory', () => {
    expect(text).toMatch(/file\(READ \$\{MYELIN_SOURCES_FILE\}/);
    expect(text).toMatch(/native\/sources\.json/);
    expect(text).toMatch(/string\(JSON/);
    expect(text).toMatch(/add_library\(myelin_core STATIC/);
    expect(text).toMatch(/if\(MYELIN_BUILD_TESTS\)[\s\S]*add_subdirectory\(native\/tests\)/);
    // No kernel/runtime unit is named directly (they all come from sources.json).
    expect(text).not.toMatch(/native\/(kernels|runtime)\/\w+\.cc/);
  });

  let hasCmake = true;
  try {
    execFileSync('cmake', ['--version'], { stdio: 'ignore' });
  } catch {
    hasCmake = false;
  }

  it('configures to compile exactly the listed sources into myelin_core, ISA flags only on the ISA units', () => {
    expect(hasCmake, 'cmake is needed to check the CMake source list').toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-cmake-'));
    try {
      execFileSync('cmake', ['-S', root, '-B', dir, '-DCMAKE_EXPORT_COMPILE_COMMANDS=ON'], { stdio: 'pipe' });
      const commands = JSON.parse(fs.readFileSync(path.join(dir, 'compile_commands.json'), 'utf8')) as
        { file: string; command: string }[];
      const compiled = commands.map((c) => path.relative(root, c.file)).sort();
      expect(compiled).toEqual([...all].sort());
      for (const c of commands) {
        const rel = path.relative(root, c.file);
        const avx = / -mavx2\b/.test(c.command);
        expect(avx, `${rel} ${sources.avx2.includes(rel) ? 'needs' : 'must not have'} -mavx2`)
          .toBe(sources.avx2.includes(rel));
        const avx512 = AVX512_FLAGS.every((f) => c.command.includes(` ${f}`));
        expect(avx512, `${rel} ${sources.avx512.includes(rel) ? 'needs' : 'must not have'} ${AVX512_FLAGS.join(' ')}`)
          .toBe(sources.avx512.includes(rel));
        const isa = sources.avx2.includes(rel) || sources.avx512.includes(rel);
        expect(/ -mfma\b/.test(c.command), `${rel} ${isa ? 'needs' : 'must not have'} -mfma`).toBe(isa);
        if (!sources.avx512.includes(rel)) expect(c.command, rel).not.toMatch(/ -mavx512/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
