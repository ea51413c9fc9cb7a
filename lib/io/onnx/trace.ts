// ONNX export by tracing (as torch.onnx.export): one forward pass on example inputs with an op tracer installed;
// each recorded op becomes its op-table nodes, each module with a registered ONNX export is written by that export.
import { setOpTracer, noGrad, type OpAttrs } from '../../autograd';
import { Tensor } from '../../tensor';
import { Module } from '../../nn/module';
import { definitionOf } from '../../nn/registry';
import { GraphBuilder, checkOpset, valueInfo } from './encode';
import { opExport, type TracedOp } from './op-table';
import { onnx } from './schema';
import { foldConvBatchNorm } from './fold';

/** Example inputs: one Tensor, several (forward(a, b)), or a named record (forward({ a, b })). */
export type ExampleInputs = Tensor | Tensor[] | Record<string, Tensor>;

export interface TraceOptions {
  opset: number;
  /** Name of a single input / output (several are named after the record keys, else input_0.. / output_0..). */
  inputName: string;
  outputName: string;
  producerVersion: string;
  /** Fold each BatchNormalization into the Conv before it (eval-mode export); false keeps them as nodes. */
  foldBatchNorm?: boolean;
}

/** A traced value: its name, and its first dimension as a multiple of the batch (1: the batch; 0: fixed). */
interface Value { name: string; factor: number }

/** The example inputs as [name, tensor] pairs and how to pass them to forward. */
function normaliseInputs(example: ExampleInputs, single: string): { named: [string, Tensor][]; args: unknown[] } {
  const fresh = (t: unknown, what: string): Tensor => {
    if (!(t instanceof Tensor)) throw new Error(`onnx.exportModel: ${what} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
    return new Tensor(t.data, t.shape); // its own identity: the same tensor passed twice is two graph inputs
  };
  if (example instanceof Tensor) {
    const t = fresh(example, 'the example input');
    return { named: [[single, t]], args: [t] };
  }
  if (Array.isArray(example)) {
    if (example.length === 0) throw new Error('onnx.exportModel: the example inputs are an empty array');
    const ts = example.map((t, i) => fresh(t, `example input ${i}`));
    return { named: ts.map((t, i) => [`input_${i}`, t]), args: ts };
  }
  if (example !== null && typeof example === 'object') {
    const entries = Object.entries(example);
    if (entries.length === 0) throw new Error('onnx.exportModel: the example inputs are an empty record');
    const named = entries.map(([k, t]): [string, Tensor] => [k, fresh(t, `example input '${k}'`)]);
    return { named, args: [Object.fromEntries(named)] };
  }
  throw new Error(`onnx.exportModel: example inputs must be a Tensor, an array of Tensors or a record of Tensors, got ${typeof example}`);
}

/** The forward's result as [name, tensor] pairs. */
function namedOutputs(out: unknown, single: string): [string, Tensor][] {
  if (out instanceof Tensor) return [[single, out]];
  const entries: [string, unknown][] = Array.isArray(out) ? out.map((t, i) => [`output_${i}`, t]) : out !== null && typeof out === 'object' ? Object.entries(out) : [];
  if (entries.length === 0 || entries.some(([, t]) => !(t instanceof Tensor))) {
    throw new Error('onnx.exportModel: forward must return a Tensor, an array of Tensors or a record of Tensors');
  }
  return entries as [string, Tensor][];
}

/** Ops whose output's first dimension is not the input's batch even when the sizes happen to agree. */
function keepsBatch(op: string, attrs: OpAttrs, inputs: readonly Tensor[]): boolean {
  switch (op) {
    case 'slice': case 'indexRows': return false;
    case 'sum': case 'mean': case 'max': case 'min': case 'argmax': case 'argmin':
    case 'concat': case 'narrow': case 'indexSelect': case 'topk':
      return attrs.axis !== null && attrs.axis !== 0;
    case 'transpose': return inputs[0].ndim > 2;
    default: return true;
  }
}

/** Every module of the tree with its dotted path ('' for the root). */
function modulePaths(model: Module): Map<Module, string> {
  const paths = new Map<Module, string>();
  const walk = (m: Module, path: string): void => {
    if (paths.has(m)) return;
    paths.set(m, path);
    for (const [name, child] of m.children()) walk(child, path ? `${path}.${name}` : name);
  };
  walk(model, '');
  return paths;
}

/** Installs `wrap` around the forward each module of `modules` runs (prototype or own); returns the undo. */
function wrapForwards(modules: Iterable<Module>, wrap: (original: (...a: unknown[]) => unknown) => (this: Module, ...a: unknown[]) => unknown): () => void {
  const undo: (() => void)[] = [];
  const done = new Set<object>();
  for (const m of modules) {
    let owner: object | null = m;
    while (owner !== null && !Object.prototype.hasOwnProperty.call(owner, 'forward')) owner = Object.getPrototypeOf(owner) as object | null;
    if (owner === null || done.has(owner)) continue;
    done.add(owner);
    const target = owner;
    const desc = Object.getOwnPropertyDescriptor(target, 'forward') as PropertyDescriptor;
    Object.defineProperty(target, 'forward', { ...desc, value: wrap(desc.value as (...a: unknown[]) => unknown) });
    undo.push(() => Object.defineProperty(target, 'forward', desc));
  }
  return () => undo.reverse().forEach((f) => f());
}

/**
 * Traces `model` on `example` and returns the ONNX bytes (without the integrity digest). The model runs in eval
 * mode without recording gradients; its mode is restored.
 */
export function traceToOnnx(model: Module, example: ExampleInputs, opts: TraceOptions): Uint8Array {
  checkOpset(opts.opset);
  if (!opts.inputName || !opts.outputName || opts.inputName === opts.outputName) {
    throw new Error(`onnx.exportModel: inputName and outputName must be distinct non-empty names (got '${opts.inputName}', '${opts.outputName}')`);
  }
  const { named: inputs, args } = normaliseInputs(example, opts.inputName);
  const batch = inputs[0][1].ndim > 0 ? inputs[0][1].shape[0] : -1;
  const g = new GraphBuilder(inputs[0][0], opts.opset, []);
  const values = new Map<Tensor, Value>();
  const valuesLog: Tensor[] = []; // tensors in the order they got a value (a layer's inner ones are dropped with its traced ops)
  for (const [name, t] of inputs) {
    if (name !== inputs[0][0]) g.fresh(name);
    values.set(t, { name, factor: t.ndim > 0 ? 1 : 0 });
  }
  const paramNames = new Map<Tensor, string>();
  for (const [name, p] of model.namedParameters()) paramNames.set(p, name);
  const paths = modulePaths(model);
  const scope: Module[] = [];
  const where = (): string => {
    const m = scope[scope.length - 1];
    return m === undefined || paths.get(m) === '' ? `the model (${model.constructor.name})` : `module '${paths.get(m)}' (${m.constructor.name})`;
  };
  let constants = 0;
  /** The first op without an ONNX mapping met inside a layer that has its own export (thrown if that export does not apply). */
  let unmapped: Error | null = null;

  /** The value name of a tensor an op reads: traced, an input, a parameter, or else a constant. */
  const valueOf = (t: Tensor): Value => {
    const known = values.get(t);
    if (known !== undefined) return known;
    const param = paramNames.get(t);
    const name = param !== undefined
      ? g.initializer(param, t.shape.slice(), t.data)
      : g.initializer(`constant_${constants++}`, t.shape.slice(), Float32Array.from(t.data));
    const v = { name, factor: 0 };
    if (param === undefined) {
      values.set(t, v); // a constant's data may be a reused buffer: copied once
      valuesLog.push(t);
    }
    return v;
  };

  const onOp = (out: Tensor, op: string, ins: readonly Tensor[], attrs: OpAttrs | undefined): void => {
    const row = opExport(op);
    if (row === undefined) {
      const err = new Error(`onnx.exportModel: op '${op}' in ${where()} has no ONNX mapping (see lib/io/onnx/op-table.ts)`);
      // Inside a layer with its own export (nn.LSTM's 'lstm' op): that export replaces the traced ops, so the
      // error stands only if it does not apply.
      if (scope.some((m) => definitionOf(m)?.onnx !== undefined)) {
        unmapped ??= err;
        return;
      }
      throw err;
    }
    const inVals = ins.map(valueOf);
    const a = attrs ?? {};
    const factor = out.ndim > 0 && batch > 0 && inVals.some((v) => v.factor > 0) && keepsBatch(op, a, ins) ? out.shape[0] / batch : 0;
    const prefix = g.prefix;
    const m = scope[scope.length - 1];
    g.prefix = m === undefined || !paths.get(m) ? '' : `${paths.get(m)}.`;
    const t: TracedOp = {
      op, inputs: inVals.map((v) => v.name), inputShapes: ins.map((x) => x.shape.slice()), inputFactors: inVals.map((v) => v.factor),
      outShape: out.shape.slice(), outFactor: factor, attrs: a,
      tensorAttr: (k) => valueOf(a[k] as Tensor).name,
    };
    const name = row(g, t);
    g.prefix = prefix;
    values.set(out, { name, factor });
    valuesLog.push(out);
  };

  /** A module's forward during the trace: its registered ONNX export when it has one and it applies, else its ops. */
  const wrap = (original: (...a: unknown[]) => unknown) => function traced(this: Module, ...a: unknown[]): unknown {
    const path = paths.get(this);
    if (path === undefined) return original.apply(this, a);
    scope.push(this);
    try {
      const mark = g.mark();
      const valuesMark = valuesLog.length;
      const out = original.apply(this, a);
      const def = definitionOf(this);
      const x = a[0];
      const failed = (): unknown => {
        if (unmapped !== null && !scope.slice(0, -1).some((m) => definitionOf(m)?.onnx !== undefined)) throw unmapped;
        return out;
      };
      if (def?.onnx === undefined || def.children !== undefined || a.length !== 1 || !(x instanceof Tensor) || !(out instanceof Tensor) || !values.has(x)) return failed();
      const inVal = values.get(x) as Value;
      // The layer's own export replaces its traced ops (kept aside in case the export does not apply).
      const inner = g.rollback(mark);
      const params: Record<string, Float32Array> = {};
      for (const [name, p] of Object.entries(this.stateDict())) params[name] = p.data; // parameters and buffers (running statistics)
      try {
        const config = this.toConfig();
        g.enter({ name: path ? `${path}.` : '', config, params });
        g.current = inVal.name;
        g.shape = x.shape.slice(1);
        def.onnx(g, config);
      } catch (err) {
        // A layer that traced no ops (a quantised layer computes in its own kernels): its export's error is the reason.
        if (inner.nodes.length === 0 && !values.has(out)) throw err;
        // E.g. a Linear on a 3-D input, or Flatten(startDim=2): the traced ops stand.
        g.rollback(mark);
        g.paste(inner);
        return failed();
      }
      unmapped = null;
      for (const t of valuesLog.splice(valuesMark)) values.delete(t);
      values.set(out, { name: g.current, factor: out.ndim > 0 && inVal.factor > 0 ? out.shape[0] / batch : 0 });
      valuesLog.push(out);
      return out;
    } finally {
      scope.pop();
      g.prefix = '';
      g.where = 'the model';
    }
  };

  const wasTraining = model.training;
  model.eval();
  const unwrap = wrapForwards(paths.keys(), wrap);
  const previous = setOpTracer(onOp);
  let result: unknown;
  try {
    result = noGrad(() => (model.forward as (...a: unknown[]) => unknown).apply(model, args));
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(msg.startsWith('onnx.exportModel') ? msg : `onnx.exportModel: the forward pass on the example input failed: ${msg}`);
  } finally {
    setOpTracer(previous);
    unwrap();
    model.train(wasTraining);
  }

  const outputs = namedOutputs(result, opts.outputName);
  const inputNames = new Set(inputs.map(([n]) => n));
  const outInfo: onnx.IValueInfoProto[] = [];
  const claimed = new Set<string>();
  for (const [name, t] of outputs) {
    const v = values.get(t);
    if (v === undefined) throw new Error(`onnx.exportModel: output '${name}' was not computed from the inputs by myelin ops`);
    if (inputNames.has(name) && !(v.name === name)) throw new Error(`onnx.exportModel: output name '${name}' is also an input name`);
    const own = v.name !== name && !claimed.has(v.name) && !inputNames.has(v.name) && !g.initializers.some((i) => i.name === v.name);
    if (v.name !== name) {
      if (inputNames.has(name)) throw new Error(`onnx.exportModel: output name '${name}' is also an input name`);
      g.nameOutput(v.name, name, own);
      claimed.add(v.name);
    }
    outInfo.push(valueInfo(name, v.factor > 0 ? t.shape.slice(1) : t.shape, v.factor === 0 ? false : v.factor === 1 ? 'batch' : '')); 
  }
  const inInfo = inputs.map(([name, t]) => {
    const b = (values.get(t) as Value).factor > 0;
    return valueInfo(name, b ? t.shape.slice(1) : t.shape, b ? 'batch' : false);
  });
  if (opts.foldBatchNorm === true) foldConvBatchNorm(g, new Set(outputs.map(([name]) => name)));
  return g.model(inInfo, outInfo, opts.producerVersion);
}

