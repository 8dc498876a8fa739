// The signed-in account: restored from the session cookie at start, set at login, cleared at
// logout or when the server says the session ended.

import { api, must, onSessionEnded, setCsrfToken } from "./api/client";
import type { components } from "../generated/schema";
import { store } from "./store";

export type Account = components["schemas"]["AccountResponse"];

export type SessionState =
  | { status: "loading" }
  | { status: "anonymous"; ended?: boolean }
  | { status: "signed-in"; account: Account };

export const session = store<SessionState>({ status: "loading" });

onSessionEnded(() => {
  setCsrfToken(null);
  session.set({ status: "anonymous", ended: true });
});

/** Picks up the session of the cookie, if there is one. */
export async function restoreSession(): Promise<void> {
  try {
    const current = must(await api.GET("/auth/session"));
    setCsrfToken(current.csrf_token);
    session.set({ status: "signed-in", account: current.account });
  } catch {
    setCsrfToken(null);
    session.set({ status: "anonymous" });
  }
}

/** Logs in: the server sets the session cookie and gives the CSRF token. */
export async function logIn(email: string, password: string): Promise<void> {
  const started = must(
    await api.POST("/auth/session", { body: { email, password, token_name: "web browser" } }),
  );
  setCsrfToken(started.csrf_token);
  session.set({ status: "signed-in", account: started.account });
}

/** Ends the session (the server revokes it and clears the cookie). */
export async function logOut(): Promise<void> {
  try {
    await api.DELETE("/auth/session");
  } finally {
    setCsrfToken(null);
    session.set({ status: "anonymous" });
  }
}

/** Reads the account again (quota, usage). */
export async function refreshAccount(): Promise<void> {
  const account = must(await api.GET("/account"));
  session.set({ status: "signed-in", account });
}
