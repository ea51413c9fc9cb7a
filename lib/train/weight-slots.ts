// Double-buffered weights in SharedArrayBuffers: a training thread publishes whole steps, other threads read consistent snapshots (a seqlock per slot, Atomics).
//
// Two slots hold a full copy of the weights each. The writer (one thread) fills the slot that is not
// the front one, between two increments of that slot's sequence number (odd while writing), then makes
// it the front. A reader copies the front slot and checks that its sequence number did not move while
// it copied; if it did (the writer lapped it: two publishes during one copy), it copies again. After a
// few laps the reader raises HOLD, and the writer waits before starting another publish until the
// reader drops it, so a reader always finishes. Nobody ever sees half of one step and half of another.

/** Indices of the control words (Int32). */
const FRONT = 0;
const SEQ = 1; // SEQ + slot
const STEP = 3; // STEP + slot
const HOLD = 5;
/** Words after the slot bookkeeping that users of the control array may take (e.g. an abort flag). */
export const CONTROL_USER_WORD = 6;
const CONTROL_WORDS = 8;
/** Copies a reader tries before it asks the writer to hold. */
const LAPS_BEFORE_HOLD = 3;

/** What crosses to another thread to open the same slots there (structured-cloneable). */
export interface WeightSlotsHandle {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
  /** Elements of each array, in publish order. */
  sizes: number[];
}

export class WeightSlots {
  readonly control: Int32Array;
  private readonly data: Float32Array;
  private readonly sizes: number[];
  private readonly total: number;

  /** New slots for arrays of these sizes (both slots zero, step -1: nothing published yet). */
  static create(sizes: readonly number[]): WeightSlots {
    for (const s of sizes) if (!Number.isInteger(s) || s < 0) throw new Error(`WeightSlots: array sizes must be non-negative integers, got ${s}`);
    const total = sizes.reduce((a, b) => a + b, 0);
    const slots = new WeightSlots({
      control: new SharedArrayBuffer(CONTROL_WORDS * 4),
      data: new SharedArrayBuffer(Math.max(1, 2 * total) * 4),
      sizes: [...sizes],
    });
    Atomics.store(slots.control, STEP, -1);
    Atomics.store(slots.control, STEP + 1, -1);
    return slots;
  }

  /** The slots behind a handle (made by create() on another thread). */
  constructor(handle: WeightSlotsHandle) {
    this.control = new Int32Array(handle.control);
    this.data = new Float32Array(handle.data);
    this.sizes = handle.sizes;
    this.total = this.sizes.reduce((a, b) => a + b, 0);
    if (this.control.length < CONTROL_WORDS || this.data.length < 2 * this.total) throw new Error('WeightSlots: the shared buffers are smaller than the layout');
  }

  get handle(): WeightSlotsHandle {
    return { control: this.control.buffer as SharedArrayBuffer, data: this.data.buffer as SharedArrayBuffer, sizes: this.sizes };
  }

  /** The step of the front slot (-1 before the first publish). */
  latestStep(): number {
    return Atomics.load(this.control, STEP + Atomics.load(this.control, FRONT));
  }

  private checkArrays(arrays: readonly Float32Array[], op: string): void {
    if (arrays.length !== this.sizes.length) throw new Error(`WeightSlots.${op}: expected ${this.sizes.length} arrays, got ${arrays.length}`);
    arrays.forEach((a, i) => {
      if (a.length !== this.sizes[i]) throw new Error(`WeightSlots.${op}: array ${i} has ${a.length} elements, the layout says ${this.sizes[i]}`);
    });
  }

  /**
   * Writer: copies `arrays` (one step's weights) into the back slot and makes it the front, labelled
   * `step`. Only one thread may publish. Waits (Atomics.wait: not on a browser main thread) while a
   * reader holds.
   */
  publish(arrays: readonly Float32Array[], step: number): void {
    this.checkArrays(arrays, 'publish');
    const c = this.control;
    while (Atomics.load(c, HOLD) !== 0) Atomics.wait(c, HOLD, 1, 50);
    const slot = 1 - Atomics.load(c, FRONT);
    Atomics.add(c, SEQ + slot, 1); // odd: being written
    let off = slot * this.total;
    for (const a of arrays) { this.data.set(a, off); off += a.length; }
    Atomics.store(c, STEP + slot, step);
    Atomics.add(c, SEQ + slot, 1); // even: complete
    Atomics.store(c, FRONT, slot);
  }

  /**
   * Reader: copies the latest published step into `into` (arrays of the layout's sizes) and returns its
   * step; returns -1 and copies nothing before the first publish. Never returns a mix of two steps.
   * `onCopy` (tests) runs between the copy and the check.
   */
  read(into: readonly Float32Array[], onCopy?: () => void): number {
    this.checkArrays(into, 'read');
    const c = this.control;
    let held = false;
    try {
      for (let lap = 0; ; lap++) {
        if (lap === LAPS_BEFORE_HOLD && !held) { Atomics.store(c, HOLD, 1); held = true; }
        const slot = Atomics.load(c, FRONT);
        const before = Atomics.load(c, SEQ + slot);
        if ((before & 1) !== 0) continue;
        const step = Atomics.load(c, STEP + slot);
        if (step < 0) return -1;
        let off = slot * this.total;
        for (const a of into) { a.set(this.data.subarray(off, off + a.length)); off += a.length; }
        onCopy?.();
        if (Atomics.load(c, SEQ + slot) === before) return step;
      }
    } finally {
      if (held) { Atomics.store(c, HOLD, 0); Atomics.notify(c, HOLD); }
    }
  }
}
