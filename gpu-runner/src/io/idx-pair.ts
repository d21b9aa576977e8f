/** An IDX image file and its label file, read together and checked against each other. */
import { FusionError } from '@clafusion/model-format/errors';
import { type Dataset, type ReadLimits } from './dataset.ts';
import { readIdxImages, readIdxLabels } from './idx.ts';

export async function readIdxPair(imagesPath: string, labelsPath: string, limits: ReadLimits = {}): Promise<Dataset> {
  const images = await readIdxImages(imagesPath, limits);
  const labels = await readIdxLabels(labelsPath, limits);
  if (images.declaredCount !== labels.declaredCount) {
    throw new FusionError(
      'SHAPE_MISMATCH',
      `${imagesPath} declares ${images.declaredCount} images but ${labelsPath} declares ${labels.declaredCount} labels`,
      { path: labelsPath },
    );
  }
  return { x: { shape: images.shape, data: images.data }, y: labels.labels };
}
