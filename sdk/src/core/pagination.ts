/**
 * A list call is both a promise of its first page and an async iterator over
 * every item of every page: `await client.fusions.list()` or
 * `for await (const job of client.fusions.list())`.
 */
import type { ListPage } from './types.ts';

export class PagedList<T> implements PromiseLike<ListPage<T>>, AsyncIterable<T> {
  constructor(private readonly fetchPage: (after: string | undefined) => Promise<ListPage<T>>) {}

  then<A = ListPage<T>, B = never>(
    onFulfilled?: ((page: ListPage<T>) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.fetchPage(undefined).then(onFulfilled, onRejected);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let after: string | undefined;
    for (;;) {
      const page = await this.fetchPage(after);
      yield* page.data;
      if (!page.has_more || page.next_after === null) return;
      after = page.next_after;
    }
  }
}
