// The kernel table (lib/backend/kernel-table.ts) and what is generated from it: fresh, consistent with the addon and the TypeScript backend.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';

import { ACTIVATION_CODE, UNARY_CODE } from '../lib/backend/contract';
import { jsBackend } from '../lib/backend/js/index';
import { ACTIVATIONS, KERNELS, UNARY_OPS } from '../lib/backend/kernel-table';
import { KERNEL_NAMES, KERNEL_TABLE_DIGEST } from '../lib/backend/kernels.gen';
import { loadBinding } from '../lib/backend/native';

const root = path.resolve(__dirname, '..');
const forcedJs = process.env.MYELIN_BACKEND === 'js';

describe('kernel table', () => {
  it('the generated files are up to date (scripts/gen-kernels.js --check)', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/gen-kernels.js'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the check notices a stale file', () => {
    const { generate } = require(path.join(root, 'scripts/gen-kernels.js')) as { generate(): Record<string, string> };
    const files = generate();
    expect(Object.keys(files).sort()).toEqual(
      ['lib/backend/kernels.gen.ts', 'native/binding/kernels.gen.h', 'native/kernels/codes.gen.h'],
    );
    for (const [rel, text] of Object.entries(files)) expect(fs.readFileSync(path.join(root, rel), 'utf8')).toBe(text);
  });

  it('the generator refuses rows the binding could not validate, naming the kernel and the argument', () => {
    const { parseRow } = require(path.join(root, 'scripts/gen-kernels.js')) as {
      parseRow(name: string, row: unknown, activations: readonly string[]): unknown;
    };
    const n = { name: 'n', type: 'count' };
    const row = (args: unknown[], more = {}): unknown => ({ doc: 'd', args, cpp: 'x.h myelin::x', ...more });
    const bad: [unknown, RegExp][] = [
      [row([n, { name: 'x', type: 'f32', len: 'm' }]), /kernel k1: x's len names m, not a size argument/],
      [row([{ name: 'x', type: 'f32', len: 'n' }, n]), /kernel k1: x's len names n, which comes after it/],
      [row([n, { name: 'x', type: 'f32', len: 'n', requiredWhen: { arg: 'lr', op: '>', value: 0 } }, { name: 'lr', type: 'float' }]),
        /x has requiredWhen but is not nullable/],
      [row([n, { name: 'x', type: 'f32', len: 'n', nullable: true, requiredWhen: { arg: 'n', op: '>', value: 0 } }]),
        /x's requiredWhen reads n, not a float or scalar argument/],
      [row([n, { name: 'k', type: 'f32', len: 'n' }]), /k is a name the generated code uses/],
      [row([n, { name: 'x', type: 'f64', len: 'n' }]), /x has unknown type f64/],
      [row([n, n]), /two arguments named n/],
      [row([n], { cpp: 'gemm' }), /cpp must read 'header.h myelin::function'/],
      [row([n, { name: 'lr', type: 'float', len: 'n' }]), /lr is not a buffer/],
    ];
    for (const [r, message] of bad) expect(() => parseRow('k1', r, ACTIVATIONS)).toThrow(message);
    expect(() => parseRow('k1', row([n, { name: 'x', type: 'f32', len: 'n' }]), ACTIVATIONS)).not.toThrow();
  });

  it('the C++ codes are the table order', () => {
    const header = fs.readFileSync(path.join(root, 'native/kernels/codes.gen.h'), 'utf8');
    ACTIVATIONS.forEach((a, i) => expect(header).toMatch(new RegExp(`\\bkAct${a[0].toUpperCase()}${a.slice(1)} = ${i}\\b`)));
    UNARY_OPS.forEach((u, i) => expect(header).toMatch(new RegExp(`\\bk${u[0].toUpperCase()}${u.slice(1)} = ${i}\\b`)));
    ACTIVATIONS.forEach((a, i) => expect(ACTIVATION_CODE[a]).toBe(i));
    UNARY_OPS.forEach((u, i) => expect(UNARY_CODE[u]).toBe(i));
  });

  it('every kernel of the table is a function of the TypeScript backend', () => {
    expect([...KERNEL_NAMES]).toEqual(Object.keys(KERNELS));
    for (const name of KERNEL_NAMES) expect(typeof jsBackend[name]).toBe('function');
  });

  it.skipIf(forcedJs)('the addon was built from this table and exports each of its kernels', () => {
    const binding = loadBinding();
    expect(binding.info().kernelTable).toBe(KERNEL_TABLE_DIGEST);
    for (const name of KERNEL_NAMES) expect(typeof binding[name]).toBe('function');
  });
});
