// A reusable scratch buffer for kernel temporaries that never outlive one synchronous op call.
let buffer = new Float32Array(0);

/**
 * A Float32Array of exactly n elements backed by a shared, growing buffer. Its contents are
 * arbitrary; it is valid only until the next scratch() call, so use it within one synchronous op.
 */
export function scratch(n: number): Float32Array {
  if (buffer.length < n) buffer = new Float32Array(Math.max(n, Math.ceil(buffer.length * 1.5)));
  return buffer.subarray(0, n);
}
