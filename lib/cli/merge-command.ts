// `myelin merge`: joins the outputs of `myelin predict --shard I/N` runs into one predictions CSV, after checking their manifests.
import { Command } from 'commander';
import { mergeShards } from '../batch/merge';

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('join sharded predict outputs in input order (checks every row is there once, one model, one input)')
    .argument('<shards...>', 'shard outputs, their .manifest.json files, or directories holding them')
    .requiredOption('--output <file>', 'the merged predictions CSV (written atomically)')
    .action(async (shards: string[], opts: { output: string }) => {
      const r = await mergeShards(shards, opts.output);
      process.stderr.write(`merged ${r.shards} shard(s): ${r.rows} rows into ${r.output}\n`);
    });
}
