/**
 * `clafusion distill`: knowledge distillation (§10.2) from one or more
 * teachers into a student that comes from a file, from a random
 * initialisation of an architecture, or — as the paper's `distill_vgg.sh`
 * compares — from fusing the teacher with a smaller model B: the fused model
 * M_F or B's depth-aligned version B′.
 */
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Model, parseArch } from '@clafusion/model-format/arch';
import { defaultFusionOptions } from '../../engine/fusion/options.ts';
import { initModel } from '../../engine/nn/init.ts';
import type { ModelFile } from '../../io/model-file.ts';
import { readModelInput, readModelInputs } from '../model-inputs.ts';
import { checkDestinations } from '../destinations.ts';
import { type NamingConvention, officialNaming } from '@clafusion/model-format/naming';
import { distillModel } from '../../pipeline/finetune.ts';
import { runFusion } from '../../pipeline/run-fusion.ts';
import { initBackend } from '../../runtime/backend.ts';
import { Args, type FlagSpecs, UsageError, helpText, parseArgs } from '../args.ts';
import { DATA_FLAGS, loadDataArg } from '../data-arg.ts';
import { MODEL_OUTPUT_FLAGS, modelOutputFromArgs } from '../model-output.ts';
import type { CommandIo } from '../io.ts';
import { createProgress } from '../progress.ts';
import { standaloneTrainingFlag, standaloneTrainingValue, trainingFlags, trainingPrinter, trainingSpecFromArgs } from '../training-flags.ts';
import { THREADS_FLAG, threadsFromArgs } from '../threads-flag.ts';
import { type TrainingRunReport, writeTrainingOutputs } from '../training-output.ts';
import { readArchArg } from './train.ts';

const INITS = ['file', 'random', 'fused', 'depth-aligned'] as const;
type StudentInit = (typeof INITS)[number];

const FLAGS: FlagSpecs = {
  teacher: { kind: 'value', repeat: true, placeholder: 'FILE', description: 'teacher model (.safetensors); with several, their mean logit is the target' },
  student: { kind: 'value', placeholder: 'FILE', description: 'the student (--student-init file), or model B to fuse with the teacher (fused, depth-aligned)' },
  'student-init': {
    kind: 'value',
    placeholder: 'file|random|fused|depth-aligned',
    description: 'student from --student as is (default with --student), random weights for --arch (default with --arch), or the fusion of the teacher and --student (M_F) or --student depth-aligned to the teacher (B′)',
  },
  arch: { kind: 'value', placeholder: 'FILE|JSON', description: 'student architecture for --student-init random' },
  calibration: { kind: 'value', placeholder: 'DATA', description: 'calibration inputs for --student-init fused|depth-aligned' },
  data: { kind: 'value', placeholder: 'DATA', description: 'labelled training data' },
  eval: { kind: 'value', placeholder: 'DATA', description: 'labelled data evaluated before distillation and after every epoch' },
  ...standaloneTrainingFlag('alpha'),
  ...standaloneTrainingFlag('temperature'),
  out: { kind: 'value', placeholder: 'FILE', description: 'where to write the distilled student (.safetensors, or .pt/.pth for a PyTorch state dict)' },
  ...MODEL_OUTPUT_FLAGS,
  report: { kind: 'value', placeholder: 'FILE', description: 'where to write the JSON report with per-epoch metrics' },
  ...trainingFlags('distill'),
  seed: { kind: 'value', placeholder: 'N', description: 'seed for a random student, shuffling, augmentation and fusion (default 0)' },
  limit: { kind: 'value', placeholder: 'N', description: 'use only the first N training samples' },
  ...THREADS_FLAG,
  ...DATA_FLAGS,
  quiet: { kind: 'switch', description: 'no progress output' },
  help: { kind: 'switch', description: 'show this help' },
};

const USAGE =
  'usage: clafusion distill --teacher T.safetensors [--teacher …] (--student S.safetensors | --student-init random --arch ARCH | --student-init fused|depth-aligned --student B.safetensors --calibration CAL) --data TRAIN --eval EVAL --alpha A --temperature T --out OUT.safetensors [--preset NAME …] [--report R.json]';

interface Student {
  model: Model;
  convention: NamingConvention;
  ref: TrainingRunReport['student'];
}

function studentInit(args: Args): StudentInit {
  const given = args.string('student-init');
  if (given !== undefined) return args.choice('student-init', INITS, 'file');
  if (args.has('student')) return 'file';
  if (args.has('arch')) return 'random';
  throw new UsageError('give the student: --student FILE, or --student-init random with --arch');
}

/** Checks the flag combinations before any file is read. */
function checkStudentFlags(args: Args, init: StudentInit, teachers: number): void {
  if (init === 'random') {
    if (!args.has('arch')) throw new UsageError('--student-init random needs --arch');
    if (args.has('student')) throw new UsageError('--student-init random takes --arch, not --student');
    return;
  }
  if (args.has('arch')) throw new UsageError(`--arch is only for --student-init random, not ${init}`);
  if (!args.has('student')) throw new UsageError(`--student-init ${init} needs --student`);
  if (init === 'file') return;
  if (!args.has('calibration')) throw new UsageError(`--student-init ${init} fuses the teacher with --student and needs --calibration`);
  if (teachers !== 1) throw new UsageError(`--student-init ${init} fuses one teacher with --student, got ${teachers} teachers`);
}

async function loadStudent(args: Args, init: StudentInit, teacher: ModelFile, teacherPath: string, seed: number): Promise<Student> {
  if (init === 'random') {
    const arch = parseArch(await readArchArg(args.required('arch')));
    return { model: initModel(arch, seed), convention: officialNaming(arch.family), ref: { label: 'random', sha256: null, arch, init } };
  }
  const path = args.required('student');
  const file = await readModelInput(path, 'student');
  if (init === 'file') return { model: file.model, convention: file.convention, ref: { label: basename(path), sha256: file.sha256, arch: file.model.arch, init } };
  // The paper's students made by fusion: M_F (teacher ⊕ B) and B′, with the family's default fusion options.
  const calibration = await loadDataArg(args.required('calibration'), args, { what: 'calibration' });
  const files = [teacher, file];
  const outcome = await runFusion(
    {
      models: [
        { model: teacher.model, label: basename(teacherPath), sha256: teacher.sha256 },
        { model: file.model, label: basename(path), sha256: file.sha256 },
      ],
      calibration: calibration.x,
      samples: null,
      options: { ...defaultFusionOptions(teacher.model.arch.family), seed },
    },
    { backend: '', now: () => performance.now() },
  );
  if (init === 'fused') {
    return { model: outcome.fused, convention: files[outcome.namingFrom].convention, ref: { label: `fused(${basename(teacherPath)}, ${basename(path)})`, sha256: null, arch: outcome.fused.arch, init } };
  }
  const aligned = outcome.depthAligned.find((d) => d.input === 1);
  if (!aligned) throw new UsageError(`--student-init depth-aligned: ${basename(path)} is not shallower than the teacher, so there is no depth-aligned version of it`);
  return { model: aligned.model, convention: file.convention, ref: { label: `depth-aligned(${basename(path)})`, sha256: null, arch: aligned.model.arch, init } };
}

export async function distillCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = new Args(parseArgs(argv, FLAGS));
  if (args.switch('help')) {
    io.stdout.write(helpText(USAGE, FLAGS));
    return 0;
  }
  const teacherPaths = args.all('teacher');
  if (teacherPaths.length === 0) throw new UsageError('--teacher is required');
  const init = studentInit(args);
  checkStudentFlags(args, init, teacherPaths.length);
  const dataSpec = args.required('data');
  const out = args.required('out');
  const modelOutput = modelOutputFromArgs(args, out);
  // Required here (the teachers need a loss), checked against the declared ranges.
  const alpha = standaloneTrainingValue(args, 'alpha') as number | undefined;
  if (alpha === undefined) throw new UsageError('--alpha is required');
  const temperature = standaloneTrainingValue(args, 'temperature') as number | undefined;
  if (temperature === undefined) throw new UsageError('--temperature is required');
  const evalSpec = args.string('eval');
  const seed = args.integer('seed', 0);
  const spec = { ...trainingSpecFromArgs(args, dataSpec), alpha, temperature, threads: threadsFromArgs(args) };
  const quiet = args.switch('quiet');
  await checkDestinations(args);

  const teachers = await readModelInputs(teacherPaths, 'teacher');
  const data = await loadDataArg(dataSpec, args, { what: 'data', labels: true, limit: args.optionalInteger('limit', 1) ?? undefined });
  const evaluation = evalSpec ? await loadDataArg(evalSpec, args, { what: 'eval', labels: true }) : undefined;
  const backend = await initBackend();
  const student = await loadStudent(args, init, teachers[0], teacherPaths[0], seed);
  const progress = createProgress(io.stderr, !quiet);
  const printer = trainingPrinter(progress, io.stderr, quiet);
  const t0 = performance.now();
  const outcome = await distillModel(
    student.model,
    teachers.map((t) => t.model),
    { x: data.x, y: data.y! },
    evaluation && { x: evaluation.x, y: evaluation.y! },
    spec,
    {
      defaultSeed: seed,
      onEvent: (e) =>
        e.type === 'batch' ? printer.batch('distill ', e.epoch, e.epochs, e.batch / e.batches, e.loss) : printer.epoch('', e.metrics, e.epochs),
    },
  );
  progress.done();
  await writeTrainingOutputs(
    outcome,
    {
      out,
      modelOutput,
      reportPath: args.string('report'),
      convention: student.convention,
      report: {
        backend: backend.detail,
        student: student.ref,
        teachers: teachers.map((t, i) => ({ label: basename(teacherPaths[i]), sha256: t.sha256, arch: t.model.arch })),
        data: { train: dataSpec, samples: data.x.shape[0], eval: evalSpec ?? null, evalSamples: evaluation ? evaluation.x.shape[0] : null },
        seconds: Math.round((performance.now() - t0) / 1000 * 1e3) / 1e3,
      },
    },
    io,
  );
  return 0;
}
