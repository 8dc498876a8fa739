import { useState } from "preact/hooks";
import { api, must } from "../api/client";
import { ApiError, messageOf } from "../api/problems";
import { linkClick } from "../router";
import { logIn } from "../session";

export function LogInPage({ ended }: { ended: boolean }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(ended ? "Your session has ended. Log in again." : null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="card"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await logIn(email.trim(), password);
        } catch (err) {
          setError(messageOf(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h1>Log in to Coffer</h1>
      <label>
        Email
        <input type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label>
        Password
        <input
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? "Logging in…" : "Log in"}
      </button>
      <p>
        No account yet?{" "}
        <a href="/signup" onClick={(e) => linkClick(e, "/signup")}>
          Sign up
        </a>
      </p>
    </form>
  );
}

export function SignUpPage() {
  const invite = new URLSearchParams(window.location.search).get("invite") ?? "";
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState(invite);
  const [needsCode, setNeedsCode] = useState(invite !== "");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="card"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(null);
        try {
          must(
            await api.POST("/auth/signup", {
              body: { email: email.trim(), password, invite_code: code.trim() || null },
            }),
          );
          await logIn(email.trim(), password);
        } catch (err) {
          if (err instanceof ApiError && (err.code === "invite_required" || err.code === "invite_invalid")) {
            setNeedsCode(true);
          }
          setError(messageOf(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h1>Create your Coffer account</h1>
      <label>
        Email
        <input type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label>
        Password <small>(at least 8 characters)</small>
        <input
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      {needsCode && (
        <label>
          Invitation code
          <input required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </label>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? "Creating…" : "Sign up"}
      </button>
      <p>
        Have an account?{" "}
        <a href="/login" onClick={(e) => linkClick(e, "/login")}>
          Log in
        </a>
      </p>
    </form>
  );
}
