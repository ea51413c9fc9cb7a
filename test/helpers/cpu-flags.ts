// Test helper: the CPU's feature flags (Linux /proc/cpuinfo), to know which kernel paths the default SIMD level must take.
import * as fs from 'fs';

/** The flags of /proc/cpuinfo's first "flags" line (empty where it cannot be read). */
export function cpuFlags(): Set<string> {
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}
