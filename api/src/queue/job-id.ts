/**
 * Job and schedule ids become BullMQ job ids and Redis key parts; both
 * adapters accept the same ones. BullMQ refuses custom ids that are integers
 * or contain `:` (it reserves those for its own ids, such as the
 * `repeat:<schedule>:<ms>` of scheduled jobs).
 */
export function checkJobId(id: string): void {
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._\-=+@]{0,199}$/.test(id) || /^[0-9]+$/.test(id)) {
    throw new TypeError(`Invalid job id ${JSON.stringify(id)}: 1-200 letters, digits and ._-=+@, starting with a letter or digit, not only digits`);
  }
}
