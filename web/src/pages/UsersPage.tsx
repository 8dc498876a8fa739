// Administration of accounts: invitations, administrators, disabling, quotas.

import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components } from "../../generated/schema";
import { messageOf } from "../api/problems";
import { notifyError } from "../notices";
import { formatSize, formatTime } from "../util";

type User = components["schemas"]["AccountResponse"];
type Invite = components["schemas"]["InviteResponse"];

const GB = 1_000_000_000;

export function UsersPage() {
  const [users, setUsers] = useState<User[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [inviteEmail, setInviteEmail] = useState("");
  const [invite, setInvite] = useState<Invite | null>(null);
  const [newEmail, setNewEmail] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [newAdmin, setNewAdmin] = useState(false);

  const load = async (cursor?: string) => {
    try {
      const page = must(await api.GET("/admin/users", { params: { query: cursor ? { cursor, limit: 200 } : { limit: 200 } } }));
      setUsers((now) => (cursor ? [...(now ?? []), ...page.users] : page.users));
      setNext(page.next_cursor ?? null);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const patch = async (user: User, body: components["schemas"]["UserPatch"]) => {
    try {
      const updated = must(await api.PATCH("/admin/users/{user_id}", { params: { path: { user_id: user.id } }, body }));
      setUsers((now) => (now ?? []).map((u) => (u.id === user.id ? updated : u)));
    } catch (err) {
      notifyError(err);
    }
  };

  return (
    <section class="users">
      <h1>Users</h1>
      <form
        class="inline-form"
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            setInvite(must(await api.POST("/admin/invites", { body: { email: inviteEmail.trim() || null } })));
            setInviteEmail("");
          } catch (err) {
            setError(messageOf(err));
          }
        }}
      >
        <label>
          Invite someone <small>(email optional: without one, anyone with the code can sign up)</small>
          <input type="email" value={inviteEmail} onInput={(e) => setInviteEmail(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">Create invitation</button>
      </form>
      <form
        class="inline-form"
        aria-label="Create an account"
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            const made = must(
              await api.POST("/admin/users", { body: { email: newEmail.trim(), password: newPassword, is_admin: newAdmin } }),
            );
            setUsers((now) => [...(now ?? []), made].sort((a, b) => a.email.localeCompare(b.email)));
            setNewEmail("");
            setNewPassword("");
            setNewAdmin(false);
            setError(null);
          } catch (err) {
            setError(messageOf(err));
          }
        }}
      >
        <label>
          Create an account: email
          <input type="email" required value={newEmail} onInput={(e) => setNewEmail(e.currentTarget.value)} />
        </label>
        <label>
          First password <small>(tell it to them)</small>
          <input type="password" autoComplete="new-password" minLength={8} required value={newPassword} onInput={(e) => setNewPassword(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" checked={newAdmin} onChange={(e) => setNewAdmin(e.currentTarget.checked)} /> Administrator
        </label>
        <button type="submit">Create account</button>
      </form>
      {invite && (
        <p class="made-link">
          Send this sign-up link{invite.email ? ` to ${invite.email}` : ""} (valid until {formatTime(invite.expires_at)}):{" "}
          <input
            readOnly
            aria-label="Invitation link"
            value={`${window.location.origin}/signup?invite=${encodeURIComponent(invite.code)}`}
            onFocus={(e) => e.currentTarget.select()}
          />
        </p>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      <table class="table" aria-busy={users === null}>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Used</th>
            <th scope="col">Quota (GB)</th>
            <th scope="col">Administrator</th>
            <th scope="col">Enabled</th>
          </tr>
        </thead>
        <tbody>
          {(users ?? []).map((user) => (
            <tr key={user.id}>
              <td>{user.email}</td>
              <td>{formatSize(user.used_bytes)}</td>
              <td>
                <input
                  type="number"
                  min={0}
                  step="any"
                  aria-label={`Quota of ${user.email} in GB`}
                  value={Math.round((user.quota_bytes / GB) * 100) / 100}
                  onChange={(e) => {
                    const gb = Number(e.currentTarget.value);
                    if (Number.isFinite(gb) && gb >= 0) void patch(user, { quota_bytes: Math.round(gb * GB) });
                  }}
                />
              </td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`${user.email} is an administrator`}
                  checked={user.is_admin}
                  onChange={(e) => void patch(user, { is_admin: e.currentTarget.checked })}
                />
              </td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`${user.email} is enabled`}
                  checked={!user.disabled}
                  onChange={(e) => void patch(user, { disabled: !e.currentTarget.checked })}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && <button type="button" onClick={() => void load(next)}>Show more</button>}
    </section>
  );
}
