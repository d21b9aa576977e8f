/**
 * `@clafusion/sdk/trpc`: a `@trpc/client` client for the API's tRPC endpoint
 * (/trpc), typed with the server's router as generated into
 * src/generated/trpc-router.ts. Queries and mutations go through one batched
 * HTTP link with the API key; subscriptions (`fusions.stream`) use SSE with
 * the key and resume after the last tracked event id when the connection
 * drops.
 */
import { type TRPCClient, TRPCClientError, createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import { EventSource } from 'eventsource';
import type { AppRouter } from './generated/trpc-router.ts';

export type { AppRouter, AppRouterRecord, ErrorShape, TrackedData } from './generated/trpc-router.ts';
export type * from './core/types.ts';

export interface TrpcClientOptions {
  /** The API's origin, e.g. http://127.0.0.1:8787 (the client talks to `${baseUrl}/trpc`). */
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
}

export type TrpcClient = TRPCClient<AppRouter>;
/** What a failed call rejects with; `error.data?.error` is the API's error body (`code`, `message`, `details`). */
export type TrpcError = TRPCClientError<AppRouter>;

export function createTrpcClient(options: TrpcClientOptions): TrpcClient {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/trpc`;
  const authorization = `Bearer ${options.apiKey}`;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url,
          EventSource,
          eventSourceOptions: { fetch: (input, init) => fetchImpl(input, { ...init, headers: { ...init?.headers, authorization } }) },
        }),
        false: httpBatchLink({ url, headers: { authorization }, fetch: fetchImpl }),
      }),
    ],
  });
}

/** Whether `error` came from a tRPC call (narrows to the typed error with the API's body in `data.error`). */
export function isTrpcError(error: unknown): error is TrpcError {
  return error instanceof TRPCClientError;
}
