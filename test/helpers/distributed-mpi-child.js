// One rank of test/distributed-mpi.test.ts's collective checks, started by mpirun: allreduce, broadcast,
// barrier over backend 'mpi', then destroy() and init() again in the same process (MPI is initialised once
// per process), then an init asking for a world size mpirun did not start. Prints one JSON line.
'use strict';
const m = require(process.env.MYELIN_DIST_ENTRY || '../../dist/index.js');

const g = m.distributed.init({ backend: 'mpi', timeoutMs: 20000 });
const sum = g.allreduce(Float32Array.from([g.rank + 1, 10 * g.rank, 0.5]));
const mean = g.allreduce(Float32Array.from([g.rank]), 'mean');
const big = new Float32Array(1 << 20).fill(g.rank + 1); // 4 MB, more than one eager message
g.start(big);
g.wait();
const bc = g.broadcast(Float32Array.from([g.rank, g.rank]), g.worldSize - 1);
g.barrier();
m.distributed.destroy();
const again = m.distributed.init({ backend: 'mpi' });
const sum2 = again.allreduce(Float32Array.from([1]));
m.distributed.destroy();
let mismatch = '';
try {
  m.distributed.init({ backend: 'mpi', worldSize: again.worldSize + 1 });
} catch (err) {
  mismatch = err.message;
}
process.stdout.write(JSON.stringify({
  backend: g.backend, rank: g.rank, worldSize: g.worldSize, sum: Array.from(sum), mean: Array.from(mean),
  bigOk: big.every((v) => v === big[0]), big: big[0], bc: Array.from(bc), sum2: Array.from(sum2), rank2: again.rank, mismatch,
}) + '\n');
