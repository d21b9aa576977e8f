/**
 * Turns a fusion request (models by file id or lineage reference) into a
 * fusion spec of file ids, remembering which lineage version each model
 * came from. Plain jobs resolve when they are created; scheduled runs at
 * their tick, so `latest` means the newest version at that moment.
 */
import type { FusionRequest, FusionSpec } from '@clafusion/contract';
import { ApiError } from '../errors.ts';
import type { LineageService } from './lineage-service.ts';

export interface ResolvedModel {
  file: string;
  lineage: { name: string; version: number } | null;
}

export interface ResolvedRequest {
  spec: FusionSpec;
  models: ResolvedModel[];
}

export async function resolveRequest(lineages: LineageService, tenant: string, request: FusionRequest): Promise<ResolvedRequest> {
  const models = await Promise.all(
    request.models.map(async (model, i): Promise<ResolvedModel> => {
      if (typeof model === 'string') return { file: model, lineage: null };
      try {
        const version = await lineages.resolve(tenant, model);
        return { file: version.file, lineage: { name: version.lineage, version: version.version } };
      } catch (err) {
        if (err instanceof ApiError) throw new ApiError(err.apiCode, `models.${i}: ${err.message}`, { ...err.details, field: `models.${i}` });
        throw err;
      }
    }),
  );
  return { spec: { ...request, models: models.map((m) => m.file) }, models };
}
