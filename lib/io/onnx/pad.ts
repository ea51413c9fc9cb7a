// Pad nodes in front of a Conv or a pooling node (torch.onnx.export writes AvgPool2d as Pad + AveragePool): merged
// into that node's pads, so the model imports as the layers it was made of.
import { onnx, AttributeType } from './schema';
import { ConstTensor, nodeView } from './decode';

const POOLING = new Set(['Conv', 'AveragePool', 'MaxPool']);

/**
 * Returns `nodes` without their Pad nodes: a Pad (mode 'constant', value 0, no padding on the batch and channel
 * axes) whose only consumer is a Conv or AveragePool has its spatial pads added to that node's (an AveragePool then
 * counts the padding, as the zeros it replaces were counted); a Pad of zeros everywhere is dropped before any node.
 * Anything else throws, naming the node and why.
 */
export function absorbPads(nodes: onnx.INodeProto[], constants: Map<string, ConstTensor>, outputs: readonly string[], opset: number, label: (n: onnx.INodeProto, i: number) => string): onnx.INodeProto[] {
  if (!nodes.some((n) => n.opType === 'Pad')) return nodes;
  const out = nodes.slice();
  const consumers = (value: string): number[] => out.flatMap((n, i) => ((n.input ?? []).includes(value) ? [i] : []));
  for (let i = 0; i < out.length; i++) {
    const n = out[i];
    if (n.opType !== 'Pad') continue;
    const where = label(n, i);
    const view = nodeView(n, where);
    const mode = view.string('mode', 'constant');
    if (mode !== 'constant') throw new Error(`${where}: only mode 'constant' is supported, got '${mode}'`);
    let pads: number[];
    let value = 0;
    if (opset < 11) {
      pads = view.ints('pads') ?? [];
      value = view.float('value', 0);
    } else {
      const p = n.input?.[1] ? constants.get(n.input[1]) : undefined;
      if (p === undefined) throw new Error(`${where}: pads must be a constant`);
      pads = Array.from(p.data);
      if (n.input?.[2]) {
        const v = constants.get(n.input[2]);
        if (v === undefined) throw new Error(`${where}: constant_value must be a constant`);
        value = v.data.length ? v.data[0] : 0;
      }
      if (n.input?.[3]) throw new Error(`${where}: the axes input is not supported`);
    }
    if (value !== 0) throw new Error(`${where}: only padding with zeros is supported, got ${value}`);
    const rank = pads.length / 2;
    if (!Number.isInteger(rank) || rank < 3) throw new Error(`${where}: pads [${pads.join(',')}] do not describe a batch of 1-d or 2-d images`);
    if (pads.some((p) => p < 0)) throw new Error(`${where}: negative pads [${pads.join(',')}] (cropping) are not supported`);
    if (pads[0] || pads[1] || pads[rank] || pads[rank + 1]) throw new Error(`${where}: padding of the batch or channel axis [${pads.join(',')}] is not supported`);
    const x = (n.input ?? [])[0];
    const y = (n.output ?? [])[0];
    const users = consumers(y);
    const spatial = [...pads.slice(2, rank), ...pads.slice(rank + 2)];
    if (spatial.every((p) => p === 0) && !outputs.includes(y)) {
      for (const u of users) out[u] = { ...out[u], input: (out[u].input ?? []).map((s) => (s === y ? x : s)) };
      out.splice(i--, 1);
      continue;
    }
    const target = users.length === 1 ? out[users[0]] : null;
    if (target === null || outputs.includes(y) || !POOLING.has(target.opType ?? '') || target.opType === 'MaxPool' || (target.input ?? [])[0] !== y) {
      throw new Error(`${where}: a Pad is read only when a Conv or an AveragePool alone takes its output (it pads [${pads.join(',')}])`);
    }
    const tv = nodeView(target, label(target, users[0]));
    const own = tv.ints('pads') ?? spatial.map(() => 0);
    if (own.length !== spatial.length) throw new Error(`${tv.label}: pads [${own.join(',')}] do not match the Pad before it [${pads.join(',')}]`);
    if (target.opType === 'AveragePool' && own.some((p) => p !== 0) && tv.int('count_include_pad', 0) !== 1) {
      throw new Error(`${tv.label}: its own pads are not counted (count_include_pad 0) but the Pad's zeros before it are`);
    }
    const merged = own.map((p, k) => p + spatial[k]);
    const attribute = (target.attribute ?? []).filter((a) => a.name !== 'pads' && a.name !== 'count_include_pad');
    attribute.push({ name: 'pads', type: AttributeType.INTS, ints: merged });
    if (target.opType === 'AveragePool') attribute.push({ name: 'count_include_pad', type: AttributeType.INT, i: 1 });
    out[users[0]] = { ...target, input: [x, ...(target.input ?? []).slice(1)], attribute };
    out.splice(i--, 1);
  }
  return out;
}
