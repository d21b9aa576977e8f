/**
 * The paper's full-size CNN pairs the bench fuses (spec §1.2–1.3, CIFAR-sized
 * input 32×32×3, no bias, no BatchNorm): VGG13_doub (A) and VGG11_half (B),
 * fused as VGG13_student; ResNet34 (A) and ResNet18 (B), fused as a ResNet34.
 */
import type { Arch, ResNetArch, VggArch } from '@clafusion/model-format/arch';

const vgg = (config: (number | 'M')[]): VggArch => ({ family: 'vgg', input: [32, 32, 3], config, classes: 10, bias: false });
const resnet = (blocks: number[]): ResNetArch => ({ family: 'resnet', input: [32, 32, 3], blocks, widths: [64, 128, 256, 512], classes: 10, bias: false });

export const CNN_PAIRS: Record<string, { A: Arch; B: Arch; label: string }> = {
  vgg: {
    label: 'VGG13_doub ← VGG11_half',
    A: vgg([64, 128, 'M', 256, 256, 'M', 512, 512, 'M', 1024, 1024, 'M', 1024, 512, 'M']),
    B: vgg([64, 'M', 64, 'M', 128, 128, 'M', 256, 256, 'M', 256, 512, 'M']),
  },
  resnet: { label: 'ResNet34 ← ResNet18', A: resnet([3, 4, 6, 3]), B: resnet([2, 2, 2, 2]) },
};
