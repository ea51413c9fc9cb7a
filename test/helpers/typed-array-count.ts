// Counts Float32Array and Int32Array constructions (for the steady-state allocation tests): a Proxy replaces the
// global constructors until stop() restores them.

export interface TypedArrayCounter {
  /** Constructions seen so far. */
  counts: { f32: number; i32: number };
  /** Restores the global constructors. */
  stop(): void;
}

/** Starts counting `new Float32Array(...)` and `new Int32Array(...)` anywhere in the process. */
export function countTypedArrays(): TypedArrayCounter {
  const counts = { f32: 0, i32: 0 };
  const originals = { f32: globalThis.Float32Array, i32: globalThis.Int32Array };
  const counting = <T extends object>(target: T, key: 'f32' | 'i32'): T => new Proxy(target, {
    construct(t, args, newTarget) {
      counts[key]++;
      return Reflect.construct(t as never, args, newTarget === (key === 'f32' ? globalThis.Float32Array : globalThis.Int32Array) ? t : newTarget) as object;
    },
  });
  globalThis.Float32Array = counting(originals.f32, 'f32');
  globalThis.Int32Array = counting(originals.i32, 'i32');
  return {
    counts,
    stop: () => {
      globalThis.Float32Array = originals.f32;
      globalThis.Int32Array = originals.i32;
    },
  };
}
