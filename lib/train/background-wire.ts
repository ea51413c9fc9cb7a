// What crosses between the main thread and the background training worker: tensors as plain data, the messages of the protocol.
import { Tensor } from '../tensor';
import { IntTensor } from '../int-tensor';
import type { BatchLogs, EpochLogs, History, TrainContext } from './types';
import type { LayerConfig } from '../nn/config';
import { CONTROL_USER_WORD, type WeightSlotsHandle } from './weight-slots';

/** A Tensor or IntTensor as structured-cloneable data. */
interface WireTensor { __myelinTensor: 'float32' | 'int32'; data: unknown; shape: number[] }

const MAX_DEPTH = 6;

/** A large typed array sent apart, in pieces (see Chunks): its place in the value. */
interface ChunkedRef { __myelinChunked: number }

/** Typed arrays above this many bytes are sent in pieces rather than in the first message. */
export const CHUNK_BYTES = 1 << 22;

type BigArray = Float32Array | Int32Array;

/**
 * Tensors (anywhere in arrays and plain objects) as plain data; everything else as it is (the structured
 * clone copies it). With `big`, Float32/Int32 arrays above CHUNK_BYTES are pushed there and replaced by
 * a reference, so one postMessage never copies them all at once.
 */
export function toWire(v: unknown, big?: BigArray[], depth = 0): unknown {
  if (v instanceof Tensor) return { __myelinTensor: 'float32', data: toWire(v.data, big, depth + 1), shape: [...v.shape] };
  if (v instanceof IntTensor) return { __myelinTensor: 'int32', data: toWire(v.data, big, depth + 1), shape: [...v.shape] };
  if (big !== undefined && (v instanceof Float32Array || v instanceof Int32Array) && v.byteLength > CHUNK_BYTES) {
    return { __myelinChunked: big.push(v) - 1 } satisfies ChunkedRef;
  }
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) return v.map((e) => toWire(e, big, depth + 1));
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  for (const [k, e] of Object.entries(v)) out[k] = toWire(e, big, depth + 1);
  return out;
}

/** toWire's inverse: the tensors rebuilt, references to arrays sent apart replaced by them. */
export function fromWire(v: unknown, big: readonly BigArray[] = [], depth = 0): unknown {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || depth > MAX_DEPTH) return v;
  const ref = (v as Partial<ChunkedRef>).__myelinChunked;
  if (typeof ref === 'number') return big[ref];
  const t = v as Partial<WireTensor>;
  if (t.__myelinTensor === 'float32') return new Tensor(fromWire(t.data, big, depth + 1) as Float32Array, t.shape as number[]);
  if (t.__myelinTensor === 'int32') return new IntTensor(fromWire(t.data, big, depth + 1) as Int32Array, t.shape as number[]);
  if (Array.isArray(v)) return v.map((e) => fromWire(e, big, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, e] of Object.entries(v)) out[k] = fromWire(e, big, depth + 1);
  return out;
}

/** The large arrays' kinds and lengths (the worker allocates them, then fills them from 'chunk' messages). */
export type ChunkedLayout = { kind: 'float32' | 'int32'; length: number }[];

export function chunkedLayout(big: readonly BigArray[]): ChunkedLayout {
  return big.map((a) => ({ kind: a instanceof Int32Array ? 'int32' : 'float32', length: a.length }));
}

/** The scalar fields of a TrainContext (what the two threads keep in step). */
export type ContextFields = Pick<TrainContext, 'epoch' | 'epochs' | 'initialEpoch' | 'batchSize' | 'samples' | 'stepsPerEpoch' | 'seed' | 'stopTraining' | 'stopReason'> & { lr: number };

export function contextFields(ctx: TrainContext): ContextFields {
  const { epoch, epochs, initialEpoch, batchSize, samples, stepsPerEpoch, seed, stopTraining, stopReason } = ctx;
  return { epoch, epochs, initialEpoch, batchSize, samples, stepsPerEpoch, seed, stopTraining, stopReason, lr: ctx.optimizer.lr };
}

/** The training data: in-memory (toWire'd FitData) or a data.Dataset read on the main thread and fed element by element. */
export type WireData = { kind: 'arrays'; value: unknown } | { kind: 'dataset'; id: number; batched: boolean };

/** Worker -> main. Messages with an `ask` id wait for a Reply with that id. */
export type WorkerMessage =
  | { t: 'trainBegin'; ask: number; ctx: ContextFields }
  | { t: 'epochBegin'; ask: number; epoch: number; ctx: ContextFields }
  | { t: 'batch'; batch: number; logs: BatchLogs; step: number; ctx: ContextFields }
  | { t: 'tick'; step: number }
  | { t: 'epochEnd'; ask: number; epoch: number; logs: EpochLogs; history: History; ctx: ContextFields }
  | { t: 'out'; text: string }
  | { t: 'open' | 'next' | 'close'; ask: number; dataset: number }
  | { t: 'done'; history: History; preprocessor: unknown; step: number }
  | { t: 'error'; message: string; stack: string | undefined };

/** Main -> worker: the answer to an ask (callbacks' changes to the context, or a dataset element), or an abort. */
export type MainMessage =
  | { t: 'reply'; ask: number; ctx?: { lr: number; stopTraining: boolean; stopReason: TrainContext['stopReason'] }; element?: unknown; done?: boolean; error?: string }
  | { t: 'abort' }
  | { t: 'chunk'; index: number; offset: number; data: Float32Array | Int32Array };

/** What the main thread gives the worker at start. */
export interface BackgroundWorkerData {
  config: LayerConfig;
  /** stateDict values in order (the slots' layout). */
  names: string[];
  state: Float32Array[];
  preprocessor: unknown;
  data: WireData;
  validation: WireData | null;
  /** Large arrays of the data, sent after the start in pieces (so this thread never blocks long on one copy). */
  chunked: ChunkedLayout;
  options: Record<string, unknown>;
  slots: WeightSlotsHandle;
  /** Post every batch's logs (the main thread has onBatchEnd callbacks); else a tick at most every tickMs. */
  batchEvents: boolean;
  tickMs: number;
  output: { isTTY: boolean; columns: number | undefined } | null;
}

/** The control word the main thread sets to abort. */
export const ABORT_WORD = CONTROL_USER_WORD;
