/**
 * Training, finetuning and distillation hyperparameters from the paper
 * (Tables 6–8) and the official scripts (docs/algorithm.md §1, §10). A preset is a
 * starting point: every field can be overridden from the CLI or a job spec.
 */
export interface TrainingPreset {
  lr: number;
  momentum: number;
  weightDecay: number;
  batchSize: number;
  epochs: number;
  /** MultiStepLR, stepped once per epoch. */
  schedule?: { milestones: number[]; gamma: number };
  /** CIFAR-style random crop (padding 4) and horizontal flip. */
  augment: boolean;
  /** Which checkpoint the paper reports: the last epoch or the best on the test set. */
  report: 'last' | 'best';
  description: string;
}

const every = (step: number, until: number) => Array.from({ length: Math.floor((until - 1) / step) }, (_, i) => (i + 1) * step);

export const PRESETS = {
  /** §1.1: the MNIST MLPs. */
  'mlp-mnist': {
    lr: 0.01, momentum: 0.5, weightDecay: 0, batchSize: 64, epochs: 10, augment: false, report: 'last',
    description: 'MLP on MNIST (Table 6): SGD lr 0.01, momentum 0.5, batch 64, 10 epochs',
  },
  /** §1.2: VGG on CIFAR-10, lr halved every 30 epochs. */
  'vgg-cifar': {
    lr: 0.05, momentum: 0.9, weightDecay: 5e-4, batchSize: 128, epochs: 300, schedule: { milestones: every(30, 300), gamma: 0.5 },
    augment: true, report: 'best',
    description: 'VGG on CIFAR-10 (Table 6): SGD lr 0.05, momentum 0.9, wd 5e-4, batch 128, 300 epochs, lr ÷2 every 30',
  },
  /** §1.3: ResNet on CIFAR. */
  'resnet-cifar': {
    lr: 0.1, momentum: 0.9, weightDecay: 1e-4, batchSize: 256, epochs: 300, schedule: { milestones: [150, 250], gamma: 0.1 },
    augment: true, report: 'best',
    description: 'ResNet on CIFAR (Table 6): SGD lr 0.1, momentum 0.9, wd 1e-4, batch 256, 300 epochs, lr ÷10 at 150 and 250',
  },
  /** §10.1: finetuning a fused ResNet (CIFAR): model 0's file, lr 0.1/1. */
  'finetune-resnet-cifar': {
    lr: 0.1, momentum: 0.9, weightDecay: 1e-4, batchSize: 256, epochs: 120, schedule: { milestones: [20, 40, 60, 80, 100], gamma: 0.5 },
    augment: true, report: 'best',
    description: 'finetune ResNet (Table 8, §10.1): lr 0.1, momentum 0.9, wd 1e-4, batch 256, 120 epochs, lr ÷2 at 20/40/60/80/100',
  },
  /** §10.1: finetuning a fused VGG: VGG13_doub's lr 0.05 / retrain-lr-decay 5. */
  'finetune-vgg-cifar': {
    lr: 0.01, momentum: 0.9, weightDecay: 5e-4, batchSize: 128, epochs: 120, schedule: { milestones: [20, 40, 60, 80, 100], gamma: 0.5 },
    augment: true, report: 'best',
    description: 'finetune VGG (Table 8, §10.1): lr 0.01, momentum 0.9, wd 5e-4, batch 128, 120 epochs, lr ÷2 at 20/40/60/80/100',
  },
  /** §10.1: TinyImageNet finetuning. */
  'finetune-resnet-tinyimagenet': {
    lr: 0.1, momentum: 0.9, weightDecay: 1e-4, batchSize: 256, epochs: 90, schedule: { milestones: [30, 60, 90], gamma: 0.1 },
    augment: true, report: 'best',
    description: 'finetune ResNet on TinyImageNet (§10.1): 90 epochs, lr ÷10 at 30/60/90',
  },
  /** §10.1 applied to the MNIST MLPs (the paper does not finetune them; a light default). */
  'finetune-mlp-mnist': {
    lr: 0.01, momentum: 0.5, weightDecay: 0, batchSize: 64, epochs: 5, augment: false, report: 'best',
    description: 'finetune MLP: the MLP training recipe for 5 epochs, best epoch kept',
  },
  /** §10.2: distillation into a VGG student: teacher lr 0.05/5, the student's momentum and wd. */
  'distill-vgg-cifar': {
    lr: 0.01, momentum: 0.9, weightDecay: 5e-4, batchSize: 128, epochs: 120, schedule: { milestones: [20, 40, 60, 80, 100], gamma: 0.5 },
    augment: true, report: 'best',
    description: 'distill into VGG (§10.2): lr 0.01, momentum 0.9, wd 5e-4, batch 128, 120 epochs, lr ÷2 at 20/40/60/80/100',
  },
  /** §10.2: distillation into a ResNet student: lr 0.1/1. */
  'distill-resnet-cifar': {
    lr: 0.1, momentum: 0.9, weightDecay: 1e-4, batchSize: 256, epochs: 120, schedule: { milestones: [20, 40, 60, 80, 100], gamma: 0.5 },
    augment: true, report: 'best',
    description: 'distill into ResNet (§10.2): lr 0.1, momentum 0.9, wd 1e-4, batch 256, 120 epochs, lr ÷2 at 20/40/60/80/100',
  },
} as const satisfies Record<string, TrainingPreset>;

export type PresetName = keyof typeof PRESETS;

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** The default preset of a family for a purpose. */
export function defaultPreset(family: 'mlp' | 'vgg' | 'resnet', purpose: 'train' | 'finetune' | 'distill'): PresetName {
  if (family === 'mlp') return purpose === 'train' ? 'mlp-mnist' : 'finetune-mlp-mnist';
  if (purpose === 'train') return family === 'vgg' ? 'vgg-cifar' : 'resnet-cifar';
  if (purpose === 'finetune') return family === 'vgg' ? 'finetune-vgg-cifar' : 'finetune-resnet-cifar';
  return family === 'vgg' ? 'distill-vgg-cifar' : 'distill-resnet-cifar';
}
