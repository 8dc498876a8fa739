// The typed API client: generated types from docs/openapi.json (openapi-typescript) and
// openapi-fetch. A change to the API that breaks the app breaks `tsc`.
//
// The browser authenticates with an HttpOnly session cookie (SameSite=Strict); every request
// that changes something carries the session's CSRF token in `X-CSRF-Token`.

import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "../../generated/schema";
import { errorFrom } from "./problems";

export type { paths, components } from "../../generated/schema";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

let csrfToken: string | null = null;

/** Sets the CSRF token of the current session (null when logged out). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Headers a request that changes something must carry (for requests made without the client). */
export function csrfHeaders(): Record<string, string> {
  return csrfToken ? { "X-CSRF-Token": csrfToken } : {};
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method) && csrfToken) request.headers.set("X-CSRF-Token", csrfToken);
    return request;
  },
};

/** Listeners told when the session ended (an answer 401 `unauthenticated`). */
const sessionEnded = new Set<() => void>();

export function onSessionEnded(listener: () => void): () => void {
  sessionEnded.add(listener);
  return () => sessionEnded.delete(listener);
}

const problems: Middleware = {
  async onResponse({ response, schemaPath }) {
    if (response.ok || response.status === 304) return response;
    const error = await errorFrom(response);
    if (error.code === "unauthenticated" && !schemaPath.startsWith("/auth/")) {
      for (const listener of sessionEnded) listener();
    }
    throw error;
  },
};

/** The API at `/api/v1`, same origin, with the session cookie. */
export const api = createClient<paths>({ baseUrl: "/api/v1", credentials: "same-origin" });
api.use(csrf, problems);

/** `data` of an openapi-fetch answer whose errors were thrown by the middleware. */
export function must<T>(result: { data?: T; error?: unknown }): T {
  if (result.data === undefined) {
    throw result.error ?? new Error("the server sent an empty answer");
  }
  return result.data;
}
