/**
 * The `clafusion` command line: fuse, train, eval, finetune, distill and demo. Every failure is
 * one clear line on stderr and a non-zero exit: 2 for bad usage, 1 for
 * everything else.
 */
import { flagOf } from '@clafusion/contract/options';
import { isFusionError } from '@clafusion/model-format/errors';
import { inOptionTerms } from '../engine/fusion/options.ts';
import { UsageError } from './args.ts';
import { closest } from './suggest.ts';
import type { CommandIo } from './io.ts';
import { fuseCommand } from './commands/fuse.ts';
import { trainCommand } from './commands/train.ts';
import { evalCommand } from './commands/eval.ts';
import { demoCommand } from './commands/demo.ts';
import { finetuneCommand } from './commands/finetune.ts';
import { distillCommand } from './commands/distill.ts';
import { ENGINE_VERSION } from '../pipeline/version.ts';

const COMMANDS: Record<string, (argv: readonly string[], io: CommandIo) => Promise<number>> = {
  fuse: fuseCommand,
  train: trainCommand,
  eval: evalCommand,
  demo: demoCommand,
  finetune: finetuneCommand,
  distill: distillCommand,
};

const HELP = `clafusion ${ENGINE_VERSION}: fuse neural networks of different depth and width (CLAFusion + OTFusion)

usage: clafusion <command> [options]

commands:
  fuse      fuse two or more model files (cross-layer alignment, balancing, optimal transport)
  train     train a model from an architecture JSON on a dataset
  eval      accuracy of model files (and their prediction ensemble) on labelled data
  finetune  finetune a model file (e.g. a fused model) with a paper preset, keeping the best epoch
  distill   distil one or more teachers into a student (from a file, random, or fused with the teacher)
  demo      train two MLPs of different depth on MNIST digits, fuse them, print the report

Run "clafusion help <command>" (or "clafusion <command> --help") for a command's options.
`;

export async function main(argv: readonly string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  // `clafusion help fuse` is `clafusion fuse --help`.
  if (command === 'help' && rest.length > 0) return main([rest[0], '--help'], io);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') {
    io.stdout.write(`${ENGINE_VERSION}\n`);
    return 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) {
    const near = closest(command, Object.keys(COMMANDS));
    io.stderr.write(`clafusion: unknown command "${command}" (${near ? `did you mean ${near}?` : `try: ${Object.keys(COMMANDS).join(', ')}`})\n`);
    return 2;
  }
  try {
    return await run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`clafusion ${command}: ${e.message}\n`);
      return 2;
    }
    if (isFusionError(e)) {
      io.stderr.write(`clafusion ${command}: error [${e.code}]: ${inOptionTerms(e, (field, value) => (value === undefined ? flagOf(field) : `${flagOf(field)} ${value}`))}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (err?.code === 'ENOENT' && err.path) {
      io.stderr.write(`clafusion ${command}: no such file: ${err.path}\n`);
      return 1;
    }
    io.stderr.write(`clafusion ${command}: ${err?.message ?? String(e)}\n`);
    return 1;
  }
}
