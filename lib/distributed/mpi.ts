// The MPI backend of distributed.init: joins MPI_COMM_WORLD of the processes mpirun started (rank and
// size from MPI itself), through the optional myelin_mpi.node addon.
import { loadMpi, type MpiBinding } from './native';

/** Environment variables that mpirun (Open MPI, or a PMI/PMIx launcher) sets in every rank it starts. */
const LAUNCHER_VARS = ['OMPI_COMM_WORLD_SIZE', 'PMI_SIZE', 'PMIX_RANK'];
let exitHooked = false;

/**
 * Joins MPI: loads the addon (an Error naming the packages when MPI is missing), refuses a process mpirun
 * did not start, initialises MPI and checks that the rank and worldSize asked for (when given) are MPI's.
 */
export function joinMpi(o: { rank?: number; worldSize?: number; timeoutMs: number }, env: NodeJS.ProcessEnv = process.env, file?: string): { binding: MpiBinding; rank: number; worldSize: number } {
  const b = loadMpi(file);
  if (!LAUNCHER_VARS.some((v) => env[v] !== undefined && env[v] !== '')) {
    throw new Error(
      "distributed.init: backend 'mpi' needs a process started by mpirun (none of " + LAUNCHER_VARS.join(', ') + ' is set): ' +
        'run `mpirun -np N node script.js` (as root add --allow-run-as-root; more ranks than cores: --oversubscribe), ' +
        "or use backend 'gloo' with `myelin run --nproc N script.js`",
    );
  }
  if (!exitHooked) {
    // MPI_Finalize waits for every rank: only a process exiting with code 0 calls it. One exiting with
    // another code leaves MPI unfinalised, and mpirun stops the job naming it (a rank that finalised
    // while the others wait for it in a collective would hang the job instead).
    exitHooked = true;
    process.once('exit', (code) => b.finalize(code));
  }
  let got: { rank: number; size: number };
  try {
    got = b.connect({ timeoutMs: o.timeoutMs });
  } catch (err) {
    throw new Error(`distributed.init: MPI could not start (${b.mpiVersion.split('\n')[0]}): ${err instanceof Error ? err.message : String(err)}`);
  }
  const mismatch = (o.worldSize !== undefined && o.worldSize !== got.size) || (o.rank !== undefined && o.rank !== got.rank);
  if (mismatch) {
    b.close();
    throw new Error(
      `distributed.init: backend 'mpi' takes rank and world size from mpirun (MPI_Comm_rank ${got.rank}, MPI_Comm_size ${got.size}), ` +
        `but ${[o.rank !== undefined ? `rank ${o.rank}` : '', o.worldSize !== undefined ? `worldSize ${o.worldSize}` : ''].filter((t) => t !== '').join(' and ')} was asked for: leave them out, or set them to match mpirun -np`,
    );
  }
  return { binding: b, rank: got.rank, worldSize: got.size };
}
