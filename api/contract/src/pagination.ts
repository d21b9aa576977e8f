/** Cursor pagination (Stripe style): `after` = the last id of the previous page. */
import { z } from 'zod';
import { LIMITS } from './limits.ts';

export function listQuery<Id extends z.ZodString>(id: Id) {
  return z.strictObject({
    after: id.optional(),
    limit: z.int().min(1).max(LIMITS.maxPageSize).default(LIMITS.defaultPageSize),
  });
}

export function listOf<Item extends z.ZodType>(item: Item) {
  return z.object({
    object: z.literal('list'),
    data: z.array(item),
    has_more: z.boolean(),
    /** Pass as `after` to get the next page; null on the last page. */
    next_after: z.string().nullable(),
  });
}

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  next_after: string | null;
}
