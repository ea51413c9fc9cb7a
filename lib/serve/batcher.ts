// Dynamic batching: concurrent small predictAsync calls on one model joined into one forwardAsync call, each caller given its rows.
import type { Backend, FrozenPlan } from '../backend/contract';
import { getBackend } from '../backend/select';
import { Tensor } from '../tensor';
import { checkOptions } from './options';
import type { PlannableModel } from './plan';
import { prepareCall, type PreparedCall } from './prepare';
import type { InputShapeOptions } from './input';
import { isMultiInput } from './inputs';

/** Options of batcher (dynamic batching of predictAsync requests): batchWindowMs, maxBatchRows, maxInFlight. */
export interface BatcherOptions {
  /**
   * How long the first request of a batch waits for others, in ms. Default 0: a request that
   * finds a free slot (see maxInFlight) is sent at once; requests made while all slots are busy
   * gather until one frees (at least until the end of the current event-loop turn).
   */
  batchWindowMs?: number;
  /** A batch is sent as soon as it holds this many rows; larger requests run alone (default 32: small
   * batches let the main thread answer one batch while the next one runs). */
  maxBatchRows?: number;
  /**
   * Batches running at once (default 1). While they run, new requests gather into the next batch,
   * so the busier the server, the larger the batches.
   */
  maxInFlight?: number;
  /** Backend to run on (default: the active backend when each request is made). */
  backend?: Backend;
}

/** Options of one batched request. */
export interface BatchedPredictOptions extends InputShapeOptions {
  /** Aborting rejects the request with signal.reason; a request not yet sent leaves its batch. */
  signal?: AbortSignal;
}

/** Counters of a Batcher: calls made, forwardAsync calls (batches) run and rows in them. */
export interface BatcherStats {
  requests: number;
  batches: number;
  rows: number;
  largestBatch: number;
}

/** The defaults of batcher's options: no wait, at most 32 rows per batch, one batch in flight. */
export const BATCHER_DEFAULTS = { batchWindowMs: 0, maxBatchRows: 32, maxInFlight: 1 } as const;

const BATCHER_OPTION_KINDS = {
  batchWindowMs: 'non-negative number', maxBatchRows: 'positive integer', maxInFlight: 'positive integer', backend: 'backend',
} as const;

/** One caller's rows waiting in a batch. */
interface Request {
  call: PreparedCall;
  resolve: (t: Tensor) => void;
  reject: (e: unknown) => void;
  /** True once resolved, rejected or aborted: the request no longer takes part. */
  settled: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  batch: Batch | null;
}

/** Requests that share a frozen weight snapshot (so the same weights) and run as one forwardAsync call. */
interface Batch {
  frozen: FrozenPlan;
  backend: Backend;
  softmax: boolean;
  K: number;
  N: number;
  requests: Request[];
  rows: number;
  timer: NodeJS.Timeout | NodeJS.Immediate | null;
  /** The window has passed: send as soon as a slot is free. */
  due: boolean;
}

function settle(req: Request): boolean {
  if (req.settled) return false;
  req.settled = true;
  if (req.onAbort !== null) req.signal?.removeEventListener('abort', req.onAbort);
  req.onAbort = null;
  return true;
}

/**
 * Requests of at most this many multiply-adds (rows x weights; the reference MLP's 235k per row
 * makes 1-2 rows) run inline when the batcher is idle: ~10-20 µs of compute on the packed weights,
 * less than the thread handoff of forwardAsync (measured +26-60 µs per call).
 */
const INLINE_MAX_MACS = 1 << 19;

/** Runs a request alone (too large to batch), outside the batch queue. */
async function runAlone(call: PreparedCall): Promise<Tensor> {
  const out = new Float32Array(call.rows * call.N);
  if (call.rows > 0) await call.backend.forwardAsync(call.rows, call.frozen, call.input, out, call.softmax, call.owned === true);
  return new Tensor(out, call.outShape);
}

/** The rejection reason of an aborted signal (an AbortError DOMException unless abort(reason) gave one). */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Joins concurrent requests on one model into shared forwardAsync calls. Each request is checked
 * on its own before it joins (a bad input rejects only its caller), its input is copied, and it
 * takes the weight snapshot of the moment it was made: requests made before and after a weight
 * change never share a call. A failing call rejects every request in it. No timer outlives the
 * requests that need it.
 */
export class Batcher {
  readonly batchWindowMs: number;
  readonly maxBatchRows: number;
  readonly maxInFlight: number;
  private readonly backend: Backend | undefined;
  private open: Batch | null = null;
  private readonly ready: Batch[] = [];
  private inFlight = 0;
  /** A request ran inline in the current synchronous job (reset by a microtask): later ones batch. */
  private inlineJob = false;
  private readonly counters: BatcherStats = { requests: 0, batches: 0, rows: 0, largestBatch: 0 };

  /**
   * A batcher for one model (predictAsync makes one per model when batch is true).
   * @param model the model whose plan the batches run on.
   * @param options batchWindowMs (ms the first request waits for others, >= 0, default 0), maxBatchRows (rows that
   * send a batch at once, default 32), maxInFlight (batches running at once, default 1), backend (default: the
   * active backend at each request).
   * @throws Error for an unknown option or a value of the wrong kind.
   * @example const b = new serve.Batcher(model, { batchWindowMs: 2 }); const y = await b.predict(x);
   */
  constructor(private readonly model: PlannableModel, options: BatcherOptions = {}) {
    const o = checkOptions('batcher', options, BATCHER_OPTION_KINDS) as BatcherOptions;
    this.batchWindowMs = o.batchWindowMs ?? BATCHER_DEFAULTS.batchWindowMs;
    this.maxBatchRows = o.maxBatchRows ?? BATCHER_DEFAULTS.maxBatchRows;
    this.maxInFlight = o.maxInFlight ?? BATCHER_DEFAULTS.maxInFlight;
    this.backend = o.backend;
  }

  /** Counters since the batcher was made (a copy). */
  get stats(): BatcherStats {
    return { ...this.counters };
  }

  /**
   * Predicts for x as part of a batch; resolves with this request's rows of the output.
   * @param x a Tensor [rows, features], or a flat Float32Array with options.features or options.rows.
   * @param options features or rows (positive integers: the shape of a flat array), signal (an AbortSignal that
   * cancels the request while it waits).
   * @returns a Promise of a Tensor [rows, outputs].
   * @throws Error (the promise rejects) for an unknown option, several inputs (an array or record: use
   * predictAsync), or an input that does not fit the model (see shapeInput); an aborted signal rejects with its reason.
   * @example const y = await batcher.predict(tensor(row, [1, 64]));
   */
  predict(x: Tensor | Float32Array, options: BatchedPredictOptions = {}): Promise<Tensor> {
    let call: PreparedCall;
    let signal: AbortSignal | undefined;
    try {
      const o = checkOptions('batcher.predict', options, { features: 'positive integer', rows: 'positive integer', signal: 'abort signal' });
      signal = o.signal as AbortSignal | undefined;
      if (isMultiInput(x)) throw new Error('batcher.predict: a batcher joins calls with one input; for several inputs call predictAsync(model, x) (each call runs on its own)');
      call = prepareCall('batcher.predict', this.model, x, o as InputShapeOptions, this.backend ?? getBackend());
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(call, signal);
  }

  /** @internal Queues a checked call (predictAsync's small calls come here too); its input is copied. */
  enqueue(call: PreparedCall, signal: AbortSignal | undefined): Promise<Tensor> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    this.counters.requests++;
    if (call.rows > this.maxBatchRows || call.rows === 0) {
      if (call.rows > 0) this.count(call.rows);
      return signal === undefined ? runAlone(call) : raceAbort(runAlone(call), signal);
    }
    // The batch is sent later: copy the input now, so the caller may reuse its buffer at once.
    if (this.idleFor(call)) return this.runInline(call);
    const own: PreparedCall = { ...call, input: call.input.slice(0, call.rows * call.K), owned: true };
    return new Promise<Tensor>((resolve, reject) => {
      const req: Request = { call: own, resolve, reject, settled: false, signal, onAbort: null, batch: null };
      if (signal !== undefined) {
        req.onAbort = () => {
          if (!settle(req)) return;
          const b = req.batch;
          if (b !== null) {
            // Still queued: it leaves its batch; an open batch left empty ends with its timer.
            b.rows -= call.rows;
            req.batch = null;
            if (b === this.open && b.requests.every((r) => r.settled)) {
              this.clearTimer(b);
              this.open = null;
            }
          }
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', req.onAbort, { once: true });
      }
      this.join(req);
    });
  }

  /**
   * True when `call` should run inline: nothing queued or running, no batch window, the first
   * request of this synchronous job, on a backend with a synchronous native frozen-plan path, and
   * at most INLINE_MAX_MACS multiply-adds (microseconds: less than handing it to a thread costs).
   */
  private idleFor(call: PreparedCall): boolean {
    return this.inFlight === 0 && this.open === null && this.ready.length === 0 && this.batchWindowMs === 0 &&
      !this.inlineJob && call.backend.name === 'native' && call.rows * (call.frozen.bytes / 4) <= INLINE_MAX_MACS;
  }

  /** Runs a small request at once on the calling thread (its frozen plan, packed weights). */
  private runInline(call: PreparedCall): Promise<Tensor> {
    this.inlineJob = true;
    queueMicrotask(() => {
      this.inlineJob = false;
    });
    this.count(call.rows);
    const out = new Float32Array(call.rows * call.N);
    try {
      call.backend.forwardDense(call.rows, call.frozen, call.input, out, call.softmax);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(new Tensor(out, call.outShape));
  }

  private join(req: Request): void {
    const { call } = req;
    let b = this.open;
    if (b !== null && (b.frozen !== call.frozen || b.backend !== call.backend || b.softmax !== call.softmax || b.rows + call.rows > this.maxBatchRows)) {
      this.close(b);
      b = null;
    }
    // With no window, a request that finds a free slot and nothing queued goes at once: a lone
    // caller never waits; the requests that come while it runs gather into the next batch.
    // After an inline request in this synchronous job, the next ones gather for one call.
    const sendNow = b === null && this.batchWindowMs === 0 && this.inFlight < this.maxInFlight && this.ready.length === 0 && !this.inlineJob;
    if (sendNow) {
      b = { frozen: call.frozen, backend: call.backend, softmax: call.softmax, K: call.K, N: call.N, requests: [req], rows: call.rows, timer: null, due: true };
      this.send(b);
      return;
    }
    if (b === null) {
      b = { frozen: call.frozen, backend: call.backend, softmax: call.softmax, K: call.K, N: call.N, requests: [], rows: 0, timer: null, due: false };
      this.open = b;
      const batch = b;
      const onWindow = (): void => {
        batch.timer = null;
        batch.due = true;
        this.pump();
      };
      b.timer = this.batchWindowMs === 0 ? setImmediate(onWindow) : setTimeout(onWindow, this.batchWindowMs);
    }
    b.requests.push(req);
    b.rows += call.rows;
    req.batch = b;
    if (b.rows >= this.maxBatchRows) this.close(b);
  }

  /** Ends a batch's window early (full, or a request that cannot join it came) and queues it. */
  private close(b: Batch): void {
    this.clearTimer(b);
    b.due = true;
    if (this.open === b) this.open = null;
    this.ready.push(b);
    this.pump();
  }

  private clearTimer(b: Batch): void {
    if (b.timer === null) return;
    if (this.batchWindowMs === 0) clearImmediate(b.timer as NodeJS.Immediate);
    else clearTimeout(b.timer as NodeJS.Timeout);
    b.timer = null;
  }

  /** Sends due batches while fewer than maxInFlight are running. */
  private pump(): void {
    while (this.inFlight < this.maxInFlight) {
      let b: Batch | undefined = this.ready.shift();
      if (b === undefined && this.open !== null && this.open.due) {
        b = this.open;
        this.open = null;
      }
      if (b === undefined) return;
      this.send(b);
    }
  }

  private send(b: Batch): void {
    const live = b.requests.filter((r) => !r.settled);
    for (const r of live) r.batch = null;
    if (live.length === 0) return;
    const rows = b.rows;
    const input = live.length === 1 ? live[0].call.input : new Float32Array(rows * b.K);
    if (live.length > 1) {
      let off = 0;
      for (const r of live) {
        input.set(r.call.input, off);
        off += r.call.input.length;
      }
    }
    const out = new Float32Array(rows * b.N);
    this.count(rows);
    this.inFlight++;
    let running: Promise<void>;
    try {
      // Every request's rows are the batcher's own copy (enqueue), joined here into a new array: handed over, not copied again.
      running = b.backend.forwardAsync(rows, b.frozen, input, out, b.softmax, true);
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      () => {
        this.finish();
        let off = 0;
        for (const r of live) {
          const n = r.call.rows * b.N;
          // Each caller owns its result: a copy unless it is the whole output.
          const y = live.length === 1 ? out : out.slice(off, off + n);
          off += n;
          if (settle(r)) r.resolve(new Tensor(y, r.call.outShape));
        }
      },
      (err: unknown) => {
        this.finish();
        for (const r of live) if (settle(r)) r.reject(err);
      },
    );
  }

  private finish(): void {
    this.inFlight--;
    this.pump();
  }

  private count(rows: number): void {
    this.counters.batches++;
    this.counters.rows += rows;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, rows);
  }
}

/** Rejects with the abort reason as soon as the signal fires, else settles like p. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/**
 * A Batcher for `model`: concurrent predict calls made within a short window run as one native call.
 * @param model the model to serve.
 * @param options batchWindowMs (default 0), maxBatchRows (default 32), maxInFlight (default 1), backend (default: the active one).
 * @returns the Batcher; call its predict(x) per request.
 * @throws Error for an unknown option or a value of the wrong kind.
 * @example
 * ```ts
 * const b = batcher(model, { maxBatchRows: 64 });
 * const y = await b.predict(randn([1, 4]));
 * ```
 */
export function batcher(model: PlannableModel, options: BatcherOptions = {}): Batcher {
  return new Batcher(model, options);
}
