/**
 * Serialises async sections per key within this process: a section for key
 * K starts only after the previous one for K has settled. Used by the S3
 * store's check-then-put fallback for servers without conditional writes.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<R>(key: string, section: () => Promise<R>): Promise<R> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(section, section);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      // The last section for a key removes the entry, so the map does not grow.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
