/**
 * Output paths are checked before any work: a fusion or a training run that
 * ends in "no such file" after minutes — naming the temporary file the atomic
 * write uses rather than the path the user gave — wastes the run. Each
 * destination's folder must exist and be writable, and the path must not be
 * a folder.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Args, UsageError } from './args.ts';

/** Every flag of any command that names a file the command writes. */
export const OUTPUT_FLAGS = ['out', 'onnx', 'report', 'report-html', 'depth-aligned-out', 'unfinetuned-out'] as const;

export async function checkDestination(flag: string, path: string): Promise<void> {
  const folder = dirname(path);
  const where = `--${flag} ${path}`;
  const info = await stat(folder).catch(() => null);
  if (info === null) throw new UsageError(`${where}: folder ${folder} does not exist`);
  if (!info.isDirectory()) throw new UsageError(`${where}: ${folder} is not a folder`);
  try {
    await access(folder, constants.W_OK);
  } catch {
    throw new UsageError(`${where}: folder ${folder} is not writable`);
  }
  if ((await stat(path).catch(() => null))?.isDirectory()) throw new UsageError(`${where} is a folder; give a file name`);
}

/** Checks each output flag the command was given. */
export async function checkDestinations(args: Args, flags: readonly string[] = OUTPUT_FLAGS): Promise<void> {
  for (const flag of flags) {
    const path = args.string(flag);
    if (path !== undefined) await checkDestination(flag, path);
  }
}
