#!/usr/bin/env node
// The `myelin` command line: train, predict, merge, sweep, run, info, export, generate, quantize (+ bench in a clone of the repository) (exit 0 ok, 1 runtime failure, 2 usage error).
import { Command, CommanderError, Option } from 'commander';
import { setBackend, BackendName } from '../backend/select';
import { UsageError, choiceParser } from './args';
import { runInfo } from './info';
import { PACKAGE_ROOT, benchScript, runBench } from './bench';
import { registerTrain } from './train-command';
import { registerPredict } from './predict-command';
import { registerExport } from './export-command';
import { registerGenerate } from './generate-command';
import { registerMerge } from './merge-command';
import { registerSweep } from './sweep-command';
import { registerRun } from './run-command';
import { registerQuantize } from './quantize-command';
import { packageVersion } from '../constants';

/** Exit codes of the command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;


/**
 * Builds the command tree. Actions report their exit code through `setExit`. `root` is the package root
 * whose bench/ decides whether `bench` is listed (tests pass another one).
 */
export function buildProgram(setExit: (code: number) => void, root: string = PACKAGE_ROOT): Command {
  const program = new Command('myelin');
  program
    .description('Neural networks for Node.js: train, predict, inspect and export models')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .addOption(new Option('--backend <name>', 'kernel backend: native or js (default: native, falling back to js)')
      .argParser(choiceParser('--backend', ['native', 'js'] as const)))
    .hook('preAction', (cmd) => {
      const backend = (cmd.opts() as { backend?: BackendName }).backend;
      if (backend !== undefined) setBackend(backend);
    });

  program
    .command('info')
    .description('show the backend, SIMD level, threads and version')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => runInfo(opts));

  // Listed only where the benchmark suite exists (a clone of the repository), hidden in the installed package.
  program
    .command('bench', { hidden: benchScript(root) === null })
    .description('run the benchmark suite (bench/run.js, source repository only); extra arguments are passed through')
    .argument('[args...]', 'arguments for bench/run.js')
    .allowUnknownOption()
    .passThroughOptions()
    .helpOption(false)
    .action(async (args: string[]) => setExit(await runBench(args, root)));

  registerTrain(program, setExit);
  registerPredict(program);
  registerExport(program);
  registerGenerate(program);
  registerMerge(program);
  registerSweep(program);
  registerRun(program, setExit);
  registerQuantize(program);
  return program;
}

/** Runs the CLI on argv (process.argv form) and resolves with the exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram((code) => { exitCode = code; });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version requests end with exitCode 0; everything else commander reports is usage.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`myelin: ${err.message}\n(run with --help for usage)\n`);
      return EXIT_USAGE;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`myelin: error: ${message}\n`);
    if (process.env.MYELIN_DEBUG === '1' && err instanceof Error && err.stack !== undefined) process.stderr.write(err.stack + '\n');
    return EXIT_FAILURE;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
