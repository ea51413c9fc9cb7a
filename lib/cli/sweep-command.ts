// `myelin sweep` (train a shard of a grid / random search, one result record per trial) and `myelin sweep-report`.
import { Command } from 'commander';
import { runSweep, sweepReport } from '../batch/sweep';
import { resolveShard } from './predict-command';
import { positiveIntParser } from './args';

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('train the trials of a sweep file (grid or seeded random search over fit options); with --shard only this shard\'s trials')
    .argument('<sweep.json>', 'the sweep file')
    .requiredOption('--out <dir>', 'directory for the result records (trial-NNNNN.json)')
    .option('--shard <I/N>', 'run only shard I (0-based) of N of the trials (default: from JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX)')
    .option('--shard-count <n>', 'the shard count when the index comes from JOB_COMPLETION_INDEX (or set MYELIN_SHARD_COUNT)', positiveIntParser('--shard-count'))
    .action(async (file: string, opts: { out: string; shard?: string; shardCount?: number }) => {
      const shard = resolveShard(opts) ?? { index: 0, count: 1 };
      const r = await runSweep(file, opts.out, shard, (m) => process.stderr.write(m + '\n'));
      process.stderr.write(`sweep shard ${shard.index}/${shard.count}: ${r.length} trial(s) in ${opts.out}\n`);
    });
  program
    .command('sweep-report')
    .description('tabulate a sweep\'s result records, best first')
    .argument('<dir>', 'the sweep\'s --out directory')
    .option('--sweep <sweep.json>', 'the sweep file: check the records belong to it and list missing trials')
    .action((dir: string, opts: { sweep?: string }) => {
      const r = sweepReport(dir, opts.sweep);
      process.stdout.write(r.table + '\n');
    });
}
