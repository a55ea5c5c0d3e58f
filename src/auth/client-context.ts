/**
 * Who a request is for, available to code the request calls (the builder) without passing it
 * through every signature: an `AsyncLocalStorage` entered by the app's first middleware.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The client of one request. `id` starts as the remote address and becomes the user once authenticated. */
export interface RequestClient {
  id: string;
  /** True once a build of this request has been charged to the client's rate. */
  charged: boolean;
  /** Builds this request has running. */
  building: number;
}

/** Carries the {@link RequestClient} of the request being served. */
export class ClientContext {
  private readonly storage = new AsyncLocalStorage<RequestClient>();

  /** Runs `fn` (and everything it starts) as a request of `id`. */
  run<T>(id: string, fn: () => T): T {
    return this.storage.run({ id, charged: false, building: 0 }, fn);
  }

  /** The client of the request being served, or `undefined` outside a request. */
  current(): RequestClient | undefined {
    return this.storage.getStore();
  }
}
