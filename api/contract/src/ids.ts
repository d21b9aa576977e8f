/**
 * Resource ids. Every id is a fixed prefix and 25 characters of base32hex
 * (`0-9a-v`): 9 for the creation time, counted down from 2^45 ms so that ids
 * sort newest first, then 16 random ones (80 bits). The pattern is strict on
 * purpose: an id is used inside object-store keys, so anything path-like
 * (`..`, `/`, `%2F`) is rejected at the boundary with a validation error.
 */
import { z } from 'zod';

const BODY = '[0-9a-v]{25}';

export const FILE_ID_PATTERN = new RegExp(`^file_${BODY}$`);
export const FUSION_ID_PATTERN = new RegExp(`^fus_${BODY}$`);
export const SCHEDULE_ID_PATTERN = new RegExp(`^sch_${BODY}$`);
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const FileId = z.string().regex(FILE_ID_PATTERN, 'must be a file id like file_0123456789abcdefghijklmno');
export const FusionId = z.string().regex(FUSION_ID_PATTERN, 'must be a fusion id like fus_0123456789abcdefghijklmno');
export const ScheduleId = z.string().regex(SCHEDULE_ID_PATTERN, 'must be a schedule id like sch_0123456789abcdefghijklmno');
export const TenantId = z.string().regex(TENANT_PATTERN, 'must be 1-63 lowercase letters, digits or "-", starting with a letter or digit');
