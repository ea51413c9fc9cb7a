// Recognises an elementwise subgraph (e.g. the Div/Erf/Add/Mul/Mul that torch writes for GELU) by evaluating it.
import { onnx } from './schema';
import { ConstTensor } from './decode';
import { erfc } from '../../backend/js/activation';

/** Elementwise operators allowed inside a decomposed activation, with scalar constants only. */
export const ELEMENTWISE_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sqrt', 'Erf', 'Tanh', 'Neg', 'Exp', 'Sigmoid', 'Identity']);

/** erf from the library's one erfc (the kernels' twin, lib/backend/js/activation.ts): ~1e-7, within the 1e-6 the recognition allows. */
export function erf(x: number): number {
  return 1 - erfc(x);
}

export function geluExact(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

function unary(op: string, a: number): number {
  switch (op) {
    case 'Sqrt': return Math.sqrt(a);
    case 'Erf': return erf(a);
    case 'Tanh': return Math.tanh(a);
    case 'Neg': return -a;
    case 'Exp': return Math.exp(a);
    case 'Sigmoid': return 1 / (1 + Math.exp(-a));
    case 'Identity': return a;
    default: throw new Error(`elementwise: '${op}' is not unary`);
  }
}

function binary(op: string, a: number, b: number): number {
  switch (op) {
    case 'Add': return a + b;
    case 'Sub': return a - b;
    case 'Mul': return a * b;
    case 'Div': return a / b;
    case 'Pow': return Math.pow(a, b);
    default: throw new Error(`elementwise: '${op}' is not binary`);
  }
}

/**
 * Evaluates `nodes` (topologically ordered; each input is `input`, a value computed earlier, or a one-element
 * constant) at the points `xs`, returning the values of `output`. Returns null when the subgraph is not purely
 * elementwise on scalars.
 */
export function evaluateElementwise(
  nodes: onnx.INodeProto[],
  input: string,
  output: string,
  constants: Map<string, ConstTensor>,
  xs: number[],
): number[] | null {
  // Check the structure once: every operand is known, every constant is a scalar, arities match.
  const computed = new Set<string>([input]);
  const steps: { op: string; operands: (string | number)[]; out: string }[] = [];
  for (const node of nodes) {
    const op = node.opType ?? '';
    if (!ELEMENTWISE_OPS.has(op)) return null;
    const operands: (string | number)[] = [];
    for (const name of node.input ?? []) {
      if (computed.has(name)) operands.push(name);
      else {
        const c = constants.get(name);
        if (!c || c.data.length !== 1) return null;
        operands.push(c.data[0]);
      }
    }
    const arity = op === 'Add' || op === 'Sub' || op === 'Mul' || op === 'Div' || op === 'Pow' ? 2 : 1;
    const out = (node.output ?? [])[0];
    if (operands.length !== arity || !out) return null;
    computed.add(out);
    steps.push({ op, operands, out });
  }
  if (!computed.has(output)) return null;
  return xs.map((x) => {
    const values = new Map<string, number>([[input, x]]);
    const get = (o: string | number): number => (typeof o === 'number' ? o : (values.get(o) as number));
    for (const s of steps) {
      const a = get(s.operands[0]);
      values.set(s.out, s.operands.length === 2 ? binary(s.op, a, get(s.operands[1])) : unary(s.op, a));
    }
    return values.get(output) as number;
  });
}

/** Sample points spanning the region where GELU variants differ, plus large magnitudes. */
const PROBES: number[] = (() => {
  const xs: number[] = [];
  for (let x = -7; x <= 7; x += 0.125) xs.push(x);
  xs.push(-30, -12, 0.001, -0.001, 12, 30);
  return xs;
})();

/** Which GELU form an elementwise subgraph computes, or null when it is neither (float32-constant tolerance). */
export function recogniseGelu(
  nodes: onnx.INodeProto[],
  input: string,
  output: string,
  constants: Map<string, ConstTensor>,
): 'none' | 'tanh' | null {
  const ys = evaluateElementwise(nodes, input, output, constants, PROBES);
  if (!ys) return null;
  const close = (f: (x: number) => number): boolean =>
    PROBES.every((x, i) => Math.abs(ys[i] - f(x)) <= 1e-6 * (1 + Math.abs(f(x))));
  if (close(geluExact)) return 'none';
  if (close(geluTanh)) return 'tanh';
  return null;
}
