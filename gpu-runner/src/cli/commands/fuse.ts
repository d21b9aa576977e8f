/** `clafusion fuse`: fuse two or more model files into one. */
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFile } from 'node:fs/promises';
import { readModelInputs } from '../model-inputs.ts';
import { checkDestinations } from '../destinations.ts';
import { atomicWriteFile } from '@clafusion/model-format/atomic-write';
import { runFusion } from '../../pipeline/run-fusion.ts';
import { runWeightSweep } from '../../pipeline/sweep.ts';
import { renderReportHtml } from '../../report/html-report.ts';
import { FUSION_FILE_METADATA, reportWithFusedFile } from '../../pipeline/fused-file.ts';
import { Args, type FlagSpecs, UsageError, helpText, parseArgs } from '../args.ts';
import { FUSION_FLAGS, fusionOptionsFromArgs } from '../fusion-flags.ts';
import { createProgress } from '../progress.ts';
import { SWEEP_FLAG, sweepWeightsFromArgs } from '../sweep-flag.ts';
import { DATA_FLAGS, loadDataArg } from '../data-arg.ts';
import { FINETUNE_FLAGS, finetuneProgress, finetuneRequestFromArgs } from '../finetune-flags.ts';
import { DISTILL_FLAGS, distillRequestFromArgs } from '../distill-flags.ts';
import { withThreads } from '../../runtime/threads.ts';
import { initBackend } from '../../runtime/backend.ts';
import { resolveThreads } from '../../runtime/fusion-threads.ts';
import { RECORD_RUNTIMES, resolveRecordRuntime } from '../../runtime/record-runtime.ts';
import type { CommandIo } from '../io.ts';
import { formatSummary } from '../summary.ts';
import { MODEL_OUTPUT_FLAGS, modelFormatFor, modelOutputFromArgs, serializeModelAs, writeModelOutputs } from '../model-output.ts';

const FLAGS: FlagSpecs = {
  model: { kind: 'value', repeat: true, placeholder: 'FILE', description: 'input model (.safetensors, or a PyTorch .pt/.pth checkpoint); give 2 or more' },
  calibration: { kind: 'value', placeholder: 'DATA', description: 'calibration inputs: a .safetensors with x (used as given), or any --data form' },
  eval: { kind: 'value', placeholder: 'DATA', description: 'labelled evaluation data (x and y) to report accuracies' },
  out: { kind: 'value', placeholder: 'FILE', description: 'where to write the fused model (.safetensors, or .pt/.pth for a PyTorch state dict)' },
  ...MODEL_OUTPUT_FLAGS,
  report: { kind: 'value', placeholder: 'FILE', description: 'where to write the JSON report' },
  'report-html': { kind: 'value', placeholder: 'FILE', description: 'where to write the report as a self-contained HTML page' },
  sweep: SWEEP_FLAG,
  'depth-aligned-out': {
    kind: 'value',
    placeholder: 'FILE',
    description: 'also write the depth-aligned model (B′ for add, A_m for merge); with 3+ models one file per model, FILE-model<K>.safetensors',
  },
  ...FUSION_FLAGS,
  ...FINETUNE_FLAGS,
  ...DISTILL_FLAGS,
  ...DATA_FLAGS,
  threads: { kind: 'value', placeholder: 'N', description: 'threads to record activations on, and to train on with --finetune/--distill (default: RUNNER_THREADS, else every core); the fused output does not depend on it' },
  'record-runtime': {
    kind: 'value',
    placeholder: 'onnxruntime|tfjs',
    description:
      'where CNN activations are recorded (default: RUNNER_RECORD_RUNTIME, else onnxruntime when onnxruntime-node loads, else tfjs); the runtimes agree to float32 rounding, not bit for bit',
  },
  quiet: { kind: 'switch', description: 'no progress output' },
  help: { kind: 'switch', description: 'show this help' },
};

export const FUSE_USAGE =
  'usage: clafusion fuse --model A.safetensors --model B.safetensors [--model …] --calibration CAL --out FUSED.safetensors [--eval EVAL] [--report R.json] [options]';

export async function fuseCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = new Args(parseArgs(argv, FLAGS));
  if (args.switch('help')) {
    io.stdout.write(helpText(FUSE_USAGE, FLAGS));
    return 0;
  }
  const modelPaths = args.all('model');
  if (modelPaths.length < 2) throw new UsageError(`fuse needs at least two --model files, got ${modelPaths.length}`);
  const calibrationSpec = args.required('calibration');
  const outPath = args.required('out');
  const outputChoice = modelOutputFromArgs(args, outPath);
  const reportPath = args.string('report');
  const evalSpec = args.string('eval');
  const requestedSamples = args.optionalInteger('samples', 1);
  const threads = resolveThreads(args.optionalInteger('threads', 1), process.env);
  const recordRuntime = resolveRecordRuntime(args.has('record-runtime') ? args.choice('record-runtime', RECORD_RUNTIMES, 'onnxruntime') : undefined, process.env);
  const htmlPath = args.string('report-html');
  const sweepWeights = sweepWeightsFromArgs(args);
  if (sweepWeights && modelPaths.length !== 2) throw new UsageError(`--sweep fuses exactly two models, got ${modelPaths.length}`);
  if (sweepWeights && !evalSpec) throw new UsageError('--sweep needs --eval to measure accuracy at each weight');
  await checkDestinations(args);

  // Training after fusion runs data-parallel on the same --threads.
  const finetune = withThreads(await finetuneRequestFromArgs(args), threads);
  const distill = withThreads(await distillRequestFromArgs(args), threads);
  const files = await readModelInputs(modelPaths);
  const family = files[0].model.arch.family;
  const options = fusionOptionsFromArgs(args, family, files.length);
  const calibration = await loadDataArg(calibrationSpec, args, { limit: requestedSamples ?? undefined, what: 'calibration' });
  const evaluation = evalSpec ? await loadDataArg(evalSpec, args, { what: 'eval', labels: true }) : undefined;

  const backend = await initBackend();
  const progress = createProgress(io.stderr, !args.switch('quiet'));
  const request = {
    models: files.map((f, i) => ({ model: f.model, label: basename(modelPaths[i]), sha256: f.sha256 })),
    calibration: calibration.x,
    samples: requestedSamples,
    evaluation: evaluation ? { x: evaluation.x, y: evaluation.y! } : undefined,
    options,
  };
  // Finetuning or distillation joins only this run: the sweep below re-fuses `request` at other weights without it.
  const outcome = await runFusion(
    { ...request, finetune, distill },
    {
      backend: backend.detail,
      now: () => performance.now(),
      threads,
      recordRuntime,
      onProgress: (e) => progress.update(e.stage, e.fraction, e.message),
      onTraining: finetuneProgress(progress, io.stderr, args.switch('quiet')),
    },
  );
  progress.done();

  // The same bytes as the runner's upload for safetensors (fused-file.ts); --format/--onnx add formats.
  const metadata = FUSION_FILE_METADATA;
  const bytes = await writeModelOutputs(outPath, outputChoice, outcome.fused, files[outcome.namingFrom].convention, metadata);
  const report = reportWithFusedFile(outcome.report, bytes);
  const unfinetunedPath = args.string('unfinetuned-out');
  if (unfinetunedPath && outcome.unfinetuned) {
    const format = modelFormatFor(unfinetunedPath, outputChoice);
    await atomicWriteFile(unfinetunedPath, serializeModelAs(format, outcome.unfinetuned, files[outcome.namingFrom].convention, metadata));
  }
  const depthAlignedPath = args.string('depth-aligned-out');
  if (depthAlignedPath) {
    for (const d of outcome.depthAligned) {
      const path =
        outcome.depthAligned.length === 1
          ? depthAlignedPath
          : depthAlignedPath.replace(/(\.safetensors|\.pth?)?$/i, (ext) => `-model${d.input + 1}${ext || '.safetensors'}`);
      await atomicWriteFile(path, serializeModelAs(modelFormatFor(path, outputChoice), d.model, files[d.input].convention, metadata));
    }
  }
  if (sweepWeights) {
    progress.update('sweep', 0, `fusing at ${sweepWeights.length} weights of model 1`);
    report.sweep = await runWeightSweep(request, sweepWeights, { backend: backend.detail, now: () => performance.now(), recordRuntime }, (s) =>
      progress.update('sweep', (s.index + 1) / s.count, `w=${s.weight}: fused ${(s.accuracy * 100).toFixed(2)}%`),
    );
    progress.done();
  }
  if (reportPath) await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  if (htmlPath) await writeFile(htmlPath, renderReportHtml(report));
  io.stdout.write(formatSummary(report, outPath, reportPath));
  if (htmlPath) io.stdout.write(`  html report: ${htmlPath}\n`);
  return 0;
}
