// The one seeded pseudo-random generator (mulberry32 + Box-Muller), used by layers, dropout, tensors, shuffling and splits; and the global default generator.
import { checkNumber, checkSeed, invalid, isPlainObject } from './validate';

/** A small, fast, seedable PRNG (mulberry32). Its whole state is one 32-bit integer. */
export class Rng {
  private state: number;
  private spareNormal: number | null = null;

  /**
   * A generator started from `seed`: the same seed gives the same sequence.
   * @param seed an integer in [0, 2^32) (default: a random seed from Math.random).
   * @throws Error when seed is not an integer in [0, 2^32).
   * @example const rng = new Rng(42); rng.next();
   */
  constructor(seed: number = randomSeed()) {
    this.state = checkSeed(new.target.name, 'seed', seed);
  }

  /**
   * Uniform 32-bit unsigned integer (one mulberry32 step).
   * @example new Rng(1).nextUint32() // 2693262067
   */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * Uniform float in [0, 1).
   * @example new Rng(1).next() // 0.627...
   */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * Uniform integer in [0, n).
   * @param n the number of possible values, an integer in [1, 2^32].
   * @returns an integer in [0, n).
   * @throws Error when n is not an integer in [1, 2^32].
   * @example new Rng(1).int(6) // a die roll minus one
   */
  int(n: number): number {
    return this.below(n, 'Rng.int', 'n');
  }

  /** Uniform integer in [0, n), n checked under the caller's name. */
  protected below(n: number, where: string, name: string): number {
    if (!(typeof n === 'number' && n >= 1 && n <= 4294967296 && Number.isInteger(n))) invalid(where, name, 'an integer in [1, 2^32]', n);
    return Math.floor(this.next() * n);
  }

  /**
   * Standard normal sample (Box-Muller; the second value of each pair is kept for the next call).
   * @example new Rng(1).normal() // 0.966...
   */
  normal(): number {
    if (this.spareNormal !== null) {
      const s = this.spareNormal;
      this.spareNormal = null;
      return s;
    }
    let u = this.next();
    while (u <= 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * The generator state, to save and later restore with setState.
   * @example const saved = rng.getState(); // later: rng.setState(saved)
   */
  getState(): { state: number; spareNormal: number | null } {
    return { state: this.state, spareNormal: this.spareNormal };
  }

  /**
   * Restores a state saved by getState(): the generator then continues exactly as the saved one would.
   * @param s the object getState() returned: state (an integer in [0, 2^32)) and spareNormal (a number
   * or null).
   * @throws Error when s is not a plain object, state is not an integer in [0, 2^32), or spareNormal is
   * neither null nor a finite number.
   * @example const saved = rng.getState(); rng.next(); rng.setState(saved);
   */
  setState(s: { state: number; spareNormal: number | null }): void {
    if (!isPlainObject(s)) invalid('Rng.setState', 'the state', 'an object { state, spareNormal } from getState()', s);
    const state = checkSeed('Rng.setState', 'state', s.state);
    const spare = s.spareNormal === null ? null : checkNumber('Rng.setState', 'spareNormal', s.spareNormal);
    this.state = state;
    this.spareNormal = spare;
  }
}

/** A fresh 32-bit seed from Math.random (used when the caller gives no seed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296) >>> 0;
}

/** Mixes a seed with a stream index into a new, well-spread 32-bit seed (for per-layer seeds). */
export function deriveSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

let globalRng = new Rng();

/** The generator used by factories and layers when no seed is given. */
export function globalGenerator(): Rng {
  return globalRng;
}

/**
 * Re-seeds the global generator: everything created afterwards without a seed is reproducible.
 * @param seed the new seed of the global generator.
 * @throws Error when seed is not a valid seed.
 * @example
 * ```ts
 * manualSeed(42); // randn([2]) now gives the same values on every run
 * ```
 */
export function manualSeed(seed: number): void {
  globalRng = new Rng(checkSeed('manualSeed', 'seed', seed));
}
