// Shared links to a file or folder: make one (password, expiry, downloads), copy it, revoke.

import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components } from "../../generated/schema";
import { messageOf } from "../api/problems";
import type { Entry } from "../live";
import { formatTime } from "../util";
import { Dialog } from "./Dialog";

type Link = components["schemas"]["LinkResponse"];

/** The app's page for a link token. */
export function linkPage(token: string): string {
  return `${window.location.origin}/s/${encodeURIComponent(token)}`;
}

export function LinkDialog({ entry, onClose }: { entry: Entry; onClose: () => void }) {
  const [links, setLinks] = useState<Link[] | null>(null);
  const [password, setPassword] = useState("");
  const [expires, setExpires] = useState("");
  const [allowDownload, setAllowDownload] = useState(true);
  const [made, setMade] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async () => {
    try {
      const all = must(await api.GET("/links")).links;
      setLinks(all.filter((l) => l.target?.id === entry.id && !l.revoked_at));
    } catch (err) {
      setError(messageOf(err));
    }
  };
  useEffect(() => {
    void load();
  }, [entry.id]);

  return (
    <Dialog title={`Links to “${entry.name}”`} onClose={onClose}>
      {made && (
        <div class="made-link">
          <label>
            Anyone with this link can {allowDownload ? "see and download" : "see"} it{password ? " (with the password)" : ""}:
            <input readOnly value={made} onFocus={(e) => e.currentTarget.select()} aria-label="The new link" />
          </label>
          <button
            type="button"
            onClick={async () => {
              try {
                await navigator.clipboard.writeText(made);
                setError(null);
              } catch {
                setError("The browser did not allow copying: select the link and copy it yourself.");
              }
            }}
          >
            Copy link
          </button>
          <p class="hint">The link is shown only now: copy it before closing.</p>
        </div>
      )}
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const link = must(
              await api.POST("/links", {
                body: {
                  path: entry.path,
                  password: password || null,
                  expires_at: expires ? new Date(`${expires}T23:59:59`).toISOString() : null,
                  allow_download: allowDownload,
                },
              }),
            );
            setMade(link.token ? linkPage(link.token) : null);
            setPassword("");
            await load();
          } catch (err) {
            setError(messageOf(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          Password <small>(optional)</small>
          <input type="password" autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <label>
          Expires <small>(optional, at the end of the day)</small>
          <input type="date" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" checked={allowDownload} onChange={(e) => setAllowDownload(e.currentTarget.checked)} /> Allow downloads
        </label>
        <footer>
          <button type="submit" class="primary" disabled={busy}>Create link</button>
        </footer>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {links && links.length > 0 && (
        <>
          <h3>Links to it</h3>
          <ul class="items">
            {links.map((link) => (
              <li key={link.id}>
                <span class="grow">
                  Made {formatTime(link.created_at)}
                  <small>
                    {link.has_password ? " · password" : ""}
                    {link.expires_at ? ` · until ${formatTime(link.expires_at)}` : ""}
                    {link.allow_download ? "" : " · no downloads"}
                  </small>
                </span>
                <button
                  type="button"
                  class="danger"
                  onClick={async () => {
                    try {
                      await api.DELETE("/links/{id}", { params: { path: { id: link.id } } });
                      await load();
                    } catch (err) {
                      setError(messageOf(err));
                    }
                  }}
                >
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </Dialog>
  );
}
