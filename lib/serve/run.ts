// predict(): synchronous batched inference of any Module through its plan (nn/plan.ts): native dense segments, every other layer through its forward.
import { noGrad } from '../autograd';
import { Tensor } from '../tensor';
import { Module, type ModuleOutput } from '../nn/module';
import { planModel, runPlan, withPlannedInference, type ModelPlan } from '../nn/plan';
import { shapeInput, type InputShapeOptions } from './input';
import { inputArgs, isMultiInput, joinOutputs, multiInput, type ModelInput, type MultiInput } from './inputs';
import { checkOptions, checkPositiveInt, invalid } from '../validate';
import { classesOf, preprocessorOf } from '../data/preprocess';
import { IntTensor, idsAsFloat } from '../int-tensor';
import { PREDICT_BATCH_SIZE } from '../constants';

/** Options of predict: batchSize (rows per forward pass, default 1024), and features / rows to shape a flat Float32Array. */
export interface PredictOptions extends InputShapeOptions {
  /** Rows per forward pass (default 1024); bounds peak memory on large inputs. */
  batchSize?: number;
}

export { PREDICT_BATCH_SIZE };

/** A model predict can run: an nn.Module (planned), or any object with forward. */
export type PredictableModel = Module | { forward(...inputs: Tensor[]): ModuleOutput; train(mode?: boolean): unknown; training?: boolean };

/** Runs fn in eval mode without gradients, in planned inference; restores the training mode. */
export function inEvalMode<T>(model: PredictableModel, fn: () => T): T {
  const wasTraining = (model as { training?: boolean }).training;
  model.train(false);
  try {
    return noGrad(() => withPlannedInference(fn));
  } finally {
    if (wasTraining === true) model.train(true);
  }
}

/** One batch through the model: a chain's plan (native dense segments) or the module's own forward. */
export function forwardBatch(model: PredictableModel, plan: ModelPlan | null, args: Tensor[] | [{ [name: string]: Tensor }]): ModuleOutput {
  if (plan !== null && plan.layers[0] !== model && args.length === 1 && args[0] instanceof Tensor) return runPlan(plan, args[0]);
  return (model.forward as (...a: unknown[]) => ModuleOutput)(...args);
}

/** Rows of several inputs, batch by batch. */
function predictMulti(model: PredictableModel, m: MultiInput, batchSize: number): ModuleOutput {
  return inEvalMode(model, () => {
    const parts: ModuleOutput[] = [];
    for (let start = 0; start < Math.max(m.rows, 1); start += batchSize) {
      parts.push(forwardBatch(model, null, inputArgs(m, start, Math.min(m.rows, start + batchSize))));
    }
    return joinOutputs(parts);
  });
}

function predictSingle(model: PredictableModel, x: Tensor | Float32Array, o: InputShapeOptions, batchSize: number): ModuleOutput {
  // The model's width checks a flat array's declared row width; a Tensor's shape is checked by forward.
  const width = x instanceof Float32Array && model instanceof Module ? model.inputFeatures() : null;
  const input = shapeInput('predict', x, o, { width, flattens: false });
  const plan = model instanceof Module ? planModel(model) : null;
  // Fast path: the whole model is one dense segment (a Sequential MLP): no tape, no mode switch, cached scratch.
  const only = plan !== null && plan.segments.length === 1 ? plan.segments[0] : null;
  if (only?.kind === 'dense' && plan!.layers[0] !== model && input.ndim === 2 && input.shape[1] === only.inference.inFeatures) {
    return only.inference.run(input.data, input.shape[0], batchSize);
  }
  return inEvalMode(model, () => {
    const rows = input.ndim === 0 ? 1 : input.shape[0];
    if (rows <= batchSize) return forwardBatch(model, plan, [input]);
    const parts: ModuleOutput[] = [];
    for (let start = 0; start < rows; start += batchSize) parts.push(forwardBatch(model, plan, [input.slice(start, start + batchSize)]));
    return joinOutputs(parts);
  });
}

/**
 * Inference: runs the model in eval mode without recording gradients, in batches of rows, and restores
 * the training mode. x is a Tensor [rows, ...], a flat Float32Array with opts.features (values per row)
 * or opts.rows (a flat array carries no row width, so it is never guessed), or several inputs: an array
 * of tensors (forward(a, b)) or a record of named tensors (forward({ a, b })), all with the same rows.
 * The model's plan runs its dense chains as fused native kernels (a Sequential MLP entirely; a Sequential
 * inside your own Module when its forward calls it); every other layer runs through its forward, with the
 * same result. Returns what forward returns (one Tensor, or an array / record of them for several outputs:
 * say so with the type parameter, predict<Tensor[]>(...)). A model.preprocessor (fit's standardize) is
 * applied to the input and to regression outputs.
 * @param model an nn.Module, or any object with forward and train.
 * @param x a Tensor [rows, ...], a flat Float32Array (with opts.features or opts.rows), an IntTensor of token ids,
 * or several inputs (an array or record of Tensors).
 * @param opts batchSize (rows per forward pass, default 1024), features, rows (positive integers).
 * @returns the model's output for every row (a Tensor [rows, outputs], or an array / record of them).
 * @throws Error when model has no forward, an option is unknown or not a positive integer, features or rows is
 * given with several inputs, several inputs (or outputs) meet a model.preprocessor, or the input does not fit the
 * model (see shapeInput).
 * @example serve.predict(model, randn([8, 64])).shape // [8, 10] for a 64 -> 10 classifier
 */
export function predict<T extends ModuleOutput = Tensor>(model: PredictableModel, x: ModelInput | IntTensor, opts: PredictOptions = {}): T {
  // Token ids: the same values as float32, which an Embedding reads as ids (exact up to 2^24).
  if (x instanceof IntTensor) x = idsAsFloat('predict', x);
  if (model === null || typeof model !== 'object' || typeof (model as { forward?: unknown }).forward !== 'function') {
    invalid('predict', 'model', 'an nn.Module (or an object with forward)', model);
  }
  const o = checkOptions('predict', opts, ['batchSize', 'features', 'rows']);
  const batchSize = o.batchSize === undefined ? PREDICT_BATCH_SIZE : checkPositiveInt('predict', 'batchSize', o.batchSize);
  if (o.features !== undefined) checkPositiveInt('predict', 'features', o.features);
  if (o.rows !== undefined) checkPositiveInt('predict', 'rows', o.rows);
  const prep = preprocessorOf(model);
  if (isMultiInput(x)) {
    if (o.features !== undefined || o.rows !== undefined) throw new Error('predict: options.features and options.rows shape one flat Float32Array input; several inputs are Tensors');
    if (prep !== null) throw new Error('predict: model.preprocessor takes one input; this call gives several');
    return predictMulti(model, multiInput('predict', x), batchSize) as T;
  }
  if (prep !== null) {
    // Inputs shaped (a flat array needs features or rows), filled and scaled first; regression outputs mapped back.
    const shaped = shapeInput('predict', x, o, { width: prep.features, flattens: false });
    const y = predictSingle(model, prep.inputs(shaped, 'predict'), {}, batchSize);
    if (!(y instanceof Tensor)) throw new Error('predict: model.preprocessor maps one output; this model returned several');
    return prep.outputs(y) as T;
  }
  return predictSingle(model, x, o, batchSize) as T;
}

/**
 * The class of each input row: argmax of the outputs (a single output is a logit for class 1), as
 * the class names the preprocessor holds (string labels from readCsv), else the index as text.
 * @param model an nn.Module, or any object with forward and train.
 * @param x the input, as predict takes it (one input).
 * @param opts batchSize, features, rows, as for predict.
 * @returns one class name per row.
 * @throws Error when the model returns several outputs, or as predict does.
 * @example serve.predictClasses(model, x) // ['3', '7', ...]
 */
export function predictClasses(model: PredictableModel, x: ModelInput, opts: PredictOptions = {}): string[] {
  const scores = predict<ModuleOutput>(model, x, opts);
  if (!(scores instanceof Tensor)) throw new Error('predictClasses: the model returned several outputs; call predict and take the one you want');
  const prep = preprocessorOf(model);
  return prep !== null ? prep.classesOf(scores) : classesOf(scores, null);
}
