/**
 * HTML escaping for everything that comes from a report. Labels are file
 * names chosen by whoever submitted the job, so every string is escaped for
 * both text and attribute context (quotes included) before it reaches markup.
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}
