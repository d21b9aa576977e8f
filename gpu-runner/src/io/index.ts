/**
 * The file layer: the only code that reads or writes files. Model files
 * (safetensors state dicts ↔ canonical models), safetensors itself, and
 * datasets (IDX, npy, CIFAR-10 batches, safetensors, built-in MNIST sets).
 */
export {
  type RawTensor,
  type ReadableDtype,
  type SafetensorsDtype,
  type ToFloat32Options,
  type TypedData,
  READABLE_DTYPES,
  bf16ToNumber,
  decodeTensor,
  dtypeSize,
  f16ToNumber,
  toFloat32,
  toInt32Labels,
} from '@clafusion/model-format/dtypes';
export {
  type SafetensorsContents,
  type SafetensorsHeader,
  type SafetensorsReadOptions,
  type TensorEntry,
  type TensorToWrite,
  DEFAULT_MAX_HEADER_BYTES,
  parseSafetensors,
  readSafetensorsFile,
  parseSafetensorsHeader,
  readSafetensorsHeader,
  safetensorsHeaderLength,
  serializeSafetensors,
  writeSafetensorsFile,
} from '@clafusion/model-format/safetensors';
export { atomicWriteFile } from '@clafusion/model-format/atomic-write';
export {
  type ArchSource,
  type CanonicalResult,
  type CnnStyle,
  type MlpNaming,
  type NamingConvention,
  type ResNetNaming,
  type ToCanonicalOptions,
  type VggNaming,
  DEFAULT_SEQUENTIAL_STRIDE,
  INFERRED_RESNET_SIZE,
  OFFICIAL_MLP_NAMING,
  OFFICIAL_RESNET_NAMING,
  OFFICIAL_VGG_NAMING,
  TORCHVISION_RESNET_NAMING,
  TORCHVISION_VGG_NAMING,
  detectMlpNaming,
  fromCanonical,
  isIgnoredTensor,
  isOfficialMlpNaming,
  officialNaming,
  stateDictToWrite,
  toCanonical,
  userParamName,
} from '@clafusion/model-format/naming';
export { type ModelFile, type ReadModelOptions, parseModelFile, readModelFile, serializeModel, writeModelFile } from './model-file.ts';
export {
  type CheckpointContents,
  type CheckpointHeader,
  type PytorchFormat,
  parsePytorchCheckpoint,
  readPytorchHeader,
  runRangesAsync,
  runRangesSync,
  sniffPytorchFormat,
} from '@clafusion/model-format/pytorch/checkpoint';
export { type Dataset, type ReadLimits, DEFAULT_MAX_ELEMENTS, checkDataset } from './dataset.ts';
export {
  type DatasetTransforms,
  type Normalization,
  type NormalizePreset,
  NORMALIZE_PRESETS,
  transformDataset,
} from './dataset-transforms.ts';
export {
  type LoadDatasetOptions,
  loadDataset,
  parseDatasetSafetensors,
  readDatasetSafetensors,
  writeDatasetSafetensors,
} from './datasets.ts';
export { type IdxImages, type IdxLabels, readIdxImages, readIdxLabels } from './idx.ts';
export { readIdxPair } from './idx-pair.ts';
export { type NpyArray, type NpyReadOptions, DEFAULT_MAX_NPY_HEADER_BYTES, parseNpy, readNpy } from './npy.ts';
export { CIFAR10_IMAGE_SHAPE, parseCifar10Batch, readCifar10Batch } from './cifar10.ts';
export { type MnistSplit, MNIST_PACKAGE_TRAIN_FRACTION, loadMnistPackage } from './mnist-package.ts';
export { FASHION_MNIST_DIR, loadFashionMnist } from './fashion-mnist.ts';
export { readFilePrefix } from './byte-source.ts';
