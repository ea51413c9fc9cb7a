// Upsample (nearest): resizes the spatial dims of [N, C, L] or [N, C, H, W] by a scale factor or to a size, as torch.nn.Upsample(mode='nearest'); ONNX Resize.
import { Tensor, shapeToString } from '../tensor';
import { upsampleNearest } from '../ops/upsample';
import { Module } from './module';
import type { LayerConfig } from './config';
import { register, type KeyRule, type OnnxExportContext, type OnnxImport } from './registry';
import { checkOneOf, checkOptions, invalid, checkTensor } from '../validate';

/** Options of nn.Upsample: size or scaleFactor (one of them) and mode. */
export interface UpsampleOptions {
  /** Output spatial size: one number (every spatial dim) or one per spatial dim. */
  size?: number | number[];
  /** Multiplier of each spatial dim (one number or one per dim); output = floor(input * scaleFactor). */
  scaleFactor?: number | number[];
  /** Only 'nearest' (the default). */
  mode?: 'nearest';
}

export interface UpsampleConfig extends LayerConfig {
  type: 'Upsample';
  size: number[] | null;
  scaleFactor: number[] | null;
  mode: 'nearest';
}

/** Upsampling of [n, c, ...spatial] to a size or by a scale factor (see UpsampleOptions for the modes). */
export class Upsample extends Module {
  readonly size: number[] | null;
  readonly scaleFactor: number[] | null;
  readonly mode = 'nearest' as const;

  /**
   * Creates the layer.
   * @param opts exactly one of size (output spatial size: a positive integer, or 1 to 3 of them) and scaleFactor (a positive number, or 1 to 3 of them); mode 'nearest' (the only mode, default).
   * @throws Error for an unknown option or mode, both or neither of size and scaleFactor, or a size or factor of the wrong kind.
   * @example
   * ```ts
   * new nn.Upsample({ scaleFactor: 2 }) // [n, c, 14, 14] -> [n, c, 28, 28]
   * ```
   */
  constructor(opts: UpsampleOptions) {
    super();
    const o = checkOptions('Upsample', opts, ['size', 'scaleFactor', 'mode']);
    if (o.mode !== undefined) checkOneOf('Upsample', 'mode', o.mode, ['nearest'] as const);
    if ((o.size === undefined) === (o.scaleFactor === undefined)) {
      throw new Error('Upsample: give exactly one of size and scaleFactor');
    }
    const check = (name: string, v: unknown, ok: (d: unknown) => boolean, what: string): number[] => {
      const list = typeof v === 'number' ? [v] : v;
      if (!Array.isArray(list) || list.length < 1 || list.length > 3 || !list.every(ok)) invalid('Upsample', name, what, v);
      return [...(list as number[])];
    };
    this.size = o.size === undefined ? null : check('size', o.size, (d) => Number.isSafeInteger(d) && (d as number) > 0, 'a positive integer or a list of 1 to 3 of them');
    this.scaleFactor = o.scaleFactor === undefined ? null
      : check('scaleFactor', o.scaleFactor, (d) => typeof d === 'number' && Number.isFinite(d) && d > 0, 'a positive number or a list of 1 to 3 of them');
  }

  /**
   * The output spatial size and per-dim scales for an input's spatial size.
   * @param spatial the input's spatial dimensions (its shape after [N, C]).
   * @param where the caller's name for error messages.
   * @returns size: the output spatial dimensions (the layer's size, or floor(input * scaleFactor)); scales:
   * the per-dimension factors, or null when the layer was given a size.
   * @throws Error when size or scaleFactor has neither 1 value nor one per spatial dimension, or a scale factor
   * makes a dimension empty.
   * @example new nn.Upsample({ scaleFactor: 2 }).outputSize([14, 14], 'demo') // { size: [28, 28], scales: [2, 2] }
   */
  outputSize(spatial: readonly number[], where: string): { size: number[]; scales: number[] | null } {
    const k = spatial.length;
    const spec = (this.size ?? this.scaleFactor) as number[];
    if (spec.length !== 1 && spec.length !== k) {
      throw new Error(`${where}: ${this.size ? 'size' : 'scaleFactor'} has ${spec.length} values but the input has ${k} spatial dim(s)`);
    }
    const per = (i: number): number => (spec.length === 1 ? spec[0] : spec[i]);
    if (this.size !== null) return { size: spatial.map((_, i) => per(i)), scales: null };
    const size = spatial.map((d, i) => Math.floor(d * per(i)));
    if (size.some((d) => d < 1)) throw new Error(`${where}: scaleFactor ${JSON.stringify(this.scaleFactor)} makes input spatial size [${spatial.join(',')}] empty`);
    return { size, scales: spatial.map((_, i) => per(i)) };
  }

  /**
   * Resizes the spatial dimensions by nearest-neighbour sampling.
   * @param x a Tensor [N, C, L], [N, C, H, W] or [N, C, D, H, W].
   * @returns [N, C, ...outputSize(spatial).size].
   * @throws Error when x is not a Tensor of 3 to 5 dimensions, size or scaleFactor has neither 1 value nor one
   * per spatial dimension, or a scale factor makes a dimension empty.
   * @example new nn.Upsample({ scaleFactor: 2 }).forward(randn([1, 3, 14, 14])).shape // [1, 3, 28, 28]
   */
  override forward(x: Tensor): Tensor {
    const where = `${this.describe()}.forward`;
    if (!(x instanceof Tensor)) checkTensor(where, 'input', x);
    if (x.ndim < 3 || x.ndim > 5) throw new Error(`${where}: expected input [N, C, L], [N, C, H, W] or [N, C, D, H, W], got ${shapeToString(x.shape)}`);
    const { size, scales } = this.outputSize(x.shape.slice(2), where);
    return upsampleNearest(x, size, scales);
  }

  override toConfig(): UpsampleConfig {
    return { type: 'Upsample', size: this.size ? [...this.size] : null, scaleFactor: this.scaleFactor ? [...this.scaleFactor] : null, mode: 'nearest' };
  }

  override describe(): string {
    return `Upsample(${this.size ? `size=[${this.size.join(',')}]` : `scaleFactor=[${(this.scaleFactor as number[]).join(',')}]`}, nearest)`;
  }
}

/**
 * ONNX Resize (nearest with PyTorch's index rule: asymmetric coordinates, floor) of x [N, C, ...spatial] to
 * `size` by constant scales (`scales` when given). Returns the output value.
 */
export function resizeNearestNodes(ctx: OnnxExportContext, x: string, spatial: number[], size: number[], scales: number[] | null): string {
  const attrs = [
    { name: 'mode', string: 'nearest' },
    { name: 'coordinate_transformation_mode', string: 'asymmetric' },
    { name: 'nearest_mode', string: 'floor' },
  ];
  // A size becomes constant scales too (the batch dim is dynamic, so sizes would have to be computed): each the
  // smallest float32 scale whose floor(input * scale) is the size, so onnxruntime makes exactly `size`.
  const per = scales ?? spatial.map((d, i) => {
    let sc = Math.fround(size[i] / d);
    while (Math.floor(d * sc) < size[i] || Math.floor(Math.fround(d * sc)) < size[i]) sc = Math.fround(sc * (1 + 2 ** -23)); // in double and in float32
    return sc;
  });
  return ctx.node('Resize', [x, '', ctx.initializer(`${ctx.prefix}scales`, [spatial.length + 2], Float32Array.from([1, 1, ...per]))], attrs);
}

function exportOnnx(ctx: OnnxExportContext, c: UpsampleConfig): void {
  const layer = new Upsample(c.size ? { size: c.size } : { scaleFactor: c.scaleFactor as number[] });
  const spatial = ctx.shape.slice(1);
  const { size, scales } = layer.outputSize(spatial, `onnx.exportModel: ${ctx.where} Upsample`);
  ctx.current = resizeNearestNodes(ctx, ctx.current, spatial, size, scales);
  ctx.shape = [ctx.shape[0], ...size];
}

/** Reads Resize (nearest, asymmetric, floor: what PyTorch and exportOnnx write) with constant scales [1, 1, ...]. */
const resizeImport: OnnxImport = {
  attributes: {
    Resize: {
      mode: 'string', coordinate_transformation_mode: 'string', nearest_mode: 'string', cubic_coeff_a: 'float',
      exclude_outside: 'int', extrapolation_value: 'float', antialias: 'int', keep_aspect_ratio_policy: 'string', axes: 'ints',
    },
  },
  node(n, ctx) {
    const mode = n.string('mode', 'nearest');
    const coords = n.string('coordinate_transformation_mode', 'half_pixel');
    const rounding = n.string('nearest_mode', 'round_prefer_floor');
    if (mode !== 'nearest' || coords !== 'asymmetric' || rounding !== 'floor') {
      throw new Error(`${n.label}: only mode 'nearest' with coordinate_transformation_mode 'asymmetric' and nearest_mode 'floor' (PyTorch's nearest) is supported, got '${mode}', '${coords}', '${rounding}'`);
    }
    if (n.ints('axes') !== null) throw new Error(`${n.label}: the axes attribute is not supported`);
    const scales = n.inputs[2] ? ctx.constant(n.inputs[2]) : null;
    if (scales === null || n.inputs[3]) throw new Error(`${n.label}: only constant scales are supported (not sizes)`);
    const s = Array.from(scales.data);
    if (s.length < 3 || s.length > 5 || s[0] !== 1 || s[1] !== 1 || s.slice(2).some((v) => !(v > 0))) {
      throw new Error(`${n.label}: scales must be [1, 1, then 1 to 3 positive spatial scales], got [${s.join(', ')}]`);
    }
    const scaleFactor = s.slice(2).map((v) => Number(Math.fround(v).toPrecision(7)));
    const sample = ctx.sample === null ? null : ctx.sample.map((d, i) => (i === 0 || d === null ? d : Math.floor(d * scaleFactor[i - 1])));
    return { config: { type: 'Upsample', size: null, scaleFactor, mode: 'nearest' }, params: {}, sample };
  },
};

const dimList = (what: string, ok: (d: unknown) => boolean): KeyRule => ({
  expect: `null or a list of 1 to 3 ${what}`,
  ok: (v) => v === null || (Array.isArray(v) && v.length >= 1 && v.length <= 3 && v.every(ok)),
});

register<UpsampleConfig>(Upsample, {
  keys: {
    size: dimList('positive integers', (d) => Number.isSafeInteger(d) && (d as number) > 0),
    scaleFactor: dimList('positive numbers', (d) => typeof d === 'number' && Number.isFinite(d) && d > 0),
    mode: { expect: "'nearest'", ok: (v) => v === 'nearest' },
  },
  fromConfig: (c) => new Upsample(c.size !== null ? { size: c.size } : { scaleFactor: c.scaleFactor as number[] }),
  parameters: () => [],
  onnx: exportOnnx,
  onnxImport: resizeImport,
  keepsNoTensors: true,
});
