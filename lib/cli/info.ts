// `myelin info`: backend, SIMD level, threads and version.
import { info } from '../backend/select';

/** Prints backend facts, as text or JSON. */
export function runInfo(options: { json?: boolean }): void {
  const facts = info();
  if (options.json === true) {
    process.stdout.write(JSON.stringify(facts, null, 2) + '\n');
    return;
  }
  const lines = [
    `myelin ${facts.version}`,
    `backend:  ${facts.backend}`,
    `simd:     ${facts.simd}`,
    `threads:  ${facts.threads}`,
    `node:     ${process.version} (${process.platform}-${process.arch})`,
  ];
  for (const [k, v] of Object.entries(facts)) {
    if (['version', 'backend', 'simd', 'threads'].includes(k)) continue;
    lines.push(`${(k + ':').padEnd(9)} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
