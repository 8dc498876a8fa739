import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components } from "../../generated/schema";
import { messageOf } from "../api/problems";
import { QuotaBar } from "../components/QuotaBar";
import { notifyError } from "../notices";
import type { Account } from "../session";
import { formatTime } from "../util";

type Token = components["schemas"]["TokenResponse"];

/** The account: storage, and the sessions and tokens that can act for it. */
export function AccountPage({ account }: { account: Account }) {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .GET("/account/tokens")
      .then((r) => setTokens(must(r).tokens))
      .catch((err) => setError(messageOf(err)));
  }, []);
  return (
    <section class="account">
      <h1>Account</h1>
      <dl>
        <dt>Email</dt>
        <dd>{account.email}</dd>
        <dt>Storage</dt>
        <dd>
          <QuotaBar account={account} />
        </dd>
        <dt>Member since</dt>
        <dd>{formatTime(account.created_at)}</dd>
      </dl>
      <h2>Sessions and tokens</h2>
      <p>Every browser session and API token that can act for this account. Revoke any you do not recognise.</p>
      {error && <p class="error" role="alert">{error}</p>}
      <ul class="items" aria-busy={tokens === null}>
        {(tokens ?? []).map((token) => (
          <li key={token.id}>
            <span class="grow">
              {token.name}
              {token.current && <strong> (this session)</strong>}
              <small>
                {" "}
                · since {formatTime(token.created_at)} · until {formatTime(token.expires_at)}
              </small>
            </span>
            {!token.current && (
              <button
                type="button"
                class="danger"
                onClick={async () => {
                  try {
                    await api.DELETE("/account/tokens/{token_id}", { params: { path: { token_id: token.id } } });
                    setTokens((now) => (now ?? []).filter((t) => t.id !== token.id));
                  } catch (err) {
                    notifyError(err);
                  }
                }}
              >
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
