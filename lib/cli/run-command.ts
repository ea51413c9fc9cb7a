// `myelin run --nproc N script.js [args...]`: data-parallel training on one machine (lib/distributed/launch.ts).
import { Command } from 'commander';
import { positiveIntParser, nonNegativeIntParser } from './args';
import { launch } from '../distributed/launch';

export function registerRun(program: Command, setExit: (code: number) => void): void {
  program
    .command('run')
    .description('start N ranks of a training script on this machine (RANK, WORLD_SIZE and a rendezvous set for distributed.init)')
    .requiredOption('--nproc <n>', 'number of processes', positiveIntParser('--nproc'))
    .option('--rendezvous <dir>', 'rendezvous directory (default: a fresh temporary one)')
    .option('--grace <seconds>', 'after a rank fails, seconds the others get to stop before SIGTERM (default 30)', nonNegativeIntParser('--grace'))
    .argument('<script>', 'the script every rank runs')
    .argument('[args...]', 'arguments for the script')
    .passThroughOptions()
    .action(async (script: string, args: string[], opts: { nproc: number; rendezvous?: string; grace?: number }) => {
      setExit(await launch({ nproc: opts.nproc, script, args, rendezvous: opts.rendezvous, graceSeconds: opts.grace }));
    });
}
