// Facts about the machine the benchmark ran on: CPU model, cores, load, node version.
'use strict';
const fs = require('fs');
const os = require('os');

function cpuModel() {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const m = text.match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1].trim();
  } catch {
    // not Linux: fall through to os.cpus()
  }
  const cpus = os.cpus();
  return cpus.length ? cpus[0].model : 'unknown';
}

/** x86 family / model numbers from /proc/cpuinfo (e.g. AMD family 26 = Zen 5), or null. */
function cpuFamilyModel() {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const fam = text.match(/^cpu family\s*:\s*(\d+)$/m);
    const mod = text.match(/^model\s*:\s*(\d+)$/m);
    if (fam && mod) return { family: Number(fam[1]), model: Number(mod[1]) };
  } catch {
    // no /proc/cpuinfo
  }
  return null;
}

/** Every CPU flag /proc/cpuinfo lists (empty elsewhere). */
function cpuFlagList() {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const m = text.match(/^flags\s*:\s*(.+)$/m);
    if (m) return m[1].split(/\s+/);
  } catch {
    // no /proc/cpuinfo
  }
  return [];
}

function cpuFlags() {
  const flags = cpuFlagList();
  return ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) => flags.includes(f));
}

function loadAvg() {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}

function machineInfo() {
  return {
    cpu: cpuModel(),
    cpuFamilyModel: cpuFamilyModel(),
    simdFlags: cpuFlags(),
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    loadAvgStart: loadAvg(),
    niceness: os.getPriority(),
    env: Object.fromEntries(
      ['MYELIN_BACKEND', 'MYELIN_NUM_THREADS', 'MYELIN_SIMD', 'OPENBLAS_NUM_THREADS', 'OPENBLAS_CORETYPE', 'BLIS_ARCH_TYPE', 'OMP_NUM_THREADS']
        .filter((k) => process.env[k] !== undefined)
        .map((k) => [k, process.env[k]]),
    ),
  };
}

module.exports = { machineInfo, loadAvg, cpuModel, cpuFlagList };
