// What an anonymous visitor of a shared link sees: a password prompt if the link has one,
// then the file (preview, download) or the folder (listing, subfolders, downloads).
// A right password earns a pass the server keeps in a cookie scoped to the link's URLs.

import { useEffect, useState } from "preact/hooks";
import { ApiError, errorFrom, messageOf } from "../api/problems";
import type { components } from "../../generated/schema";
import { Preview } from "../components/Preview";
import { linkClick, navigate } from "../router";
import { crumbs, formatSize, formatTime, join } from "../util";

type Entry = components["schemas"]["EntryResponse"];

/** `/s/<token>/<path…>` → the token and the path inside the link. */
export function parseLinkRoute(route: string): { token: string; path: string } {
  const [, , token = "", ...rest] = route.split("/");
  const path = rest
    .filter(Boolean)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .reduce((at, name) => join(at, name), "/");
  return { token: decodeURIComponent(token), path };
}

function route(token: string, path: string): string {
  const inner = path === "/" ? "" : path.split("/").map(encodeURIComponent).join("/");
  return `/s/${encodeURIComponent(token)}${inner}`;
}

function publicUrl(token: string, what: "" | "/list" | "/content", path: string): string {
  return `/api/v1/public/links/${encodeURIComponent(token)}${what}?${new URLSearchParams({ path }).toString()}`;
}

export function PublicLinkPage({ location }: { location: string }) {
  const { token, path } = parseLinkRoute(location.split("?")[0] ?? "/");
  const [password, setPassword] = useState<string | null>(null);
  const [typed, setTyped] = useState("");
  const [needsPassword, setNeedsPassword] = useState(false);
  const [entry, setEntry] = useState<Entry | null>(null);
  const [entries, setEntries] = useState<Entry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [preview, setPreview] = useState<Entry | null>(null);

  const get = async (url: string) => {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: password ? { "X-Link-Password": password } : {},
    });
    if (!response.ok) throw await errorFrom(response);
    return response.json();
  };

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const found = (await get(publicUrl(token, "", path))) as Entry;
        if (!live) return;
        setEntry(found);
        setNeedsPassword(false);
        setError(null);
        if (found.kind === "folder") {
          const listed: Entry[] = [];
          let cursor: string | null | undefined;
          do {
            const url = cursor
              ? `/api/v1/public/links/${encodeURIComponent(token)}/list?${new URLSearchParams({ cursor }).toString()}`
              : publicUrl(token, "/list", path);
            const page = await get(url);
            listed.push(...page.entries);
            cursor = page.has_more ? page.cursor : null;
          } while (cursor && listed.length < 20000);
          if (live) setEntries(listed);
        }
      } catch (err) {
        if (!live) return;
        if (err instanceof ApiError && (err.code === "link_password_required" || err.code === "invalid_link_password")) {
          setNeedsPassword(true);
          setError(err.code === "invalid_link_password" ? err.message : null);
        } else {
          setError(messageOf(err));
        }
      }
    })();
    return () => {
      live = false;
    };
  }, [token, path, password]);

  if (needsPassword) {
    return (
      <main class="auth">
        <form
          class="card"
          onSubmit={(event) => {
            event.preventDefault();
            setPassword(typed);
          }}
        >
          <h1>This link is protected</h1>
          <label>
            Password
            <input type="password" required value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
          </label>
          {error && <p class="error" role="alert">{error}</p>}
          <button type="submit" class="primary">Open</button>
        </form>
      </main>
    );
  }
  return (
    <main class="content public">
      <header class="page-head">
        <h1>{entry ? (path === "/" ? entry.name : entry.name) : "Shared with you"}</h1>
        <small>Shared through Coffer</small>
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      {entry?.kind === "folder" && (
        <>
          <nav class="crumbs" aria-label="Folder">
            {crumbs(path).map((c) => (
              <a key={c.path} href={route(token, c.path)} onClick={(e) => linkClick(e, route(token, c.path))}>
                {c.path === "/" ? "Top" : c.name} /
              </a>
            ))}
          </nav>
          <ul class="items" aria-label="Folder contents">
            {entries.map((child) => {
              const childPath = join(path, child.name);
              return (
                <li key={child.id}>
                  <span class={`kind ${child.kind}`} aria-hidden="true" />
                  {child.kind === "folder" ? (
                    <a class="grow" href={route(token, childPath)} onClick={(e) => linkClick(e, route(token, childPath))}>
                      {child.name}
                    </a>
                  ) : (
                    <button type="button" class="link grow" onClick={() => setPreview({ ...child, path: childPath })}>
                      {child.name}
                    </button>
                  )}
                  <small>{child.kind === "file" ? formatSize(child.size) : ""}</small>
                  {child.kind === "file" && (
                    <a class="button" href={publicUrl(token, "/content", childPath)} download={child.name}>
                      Download
                    </a>
                  )}
                </li>
              );
            })}
            {entries.length === 0 && <li class="empty">This folder is empty.</li>}
          </ul>
        </>
      )}
      {entry?.kind === "file" && (
        <div class="card">
          <p>
            {formatSize(entry.size)} · {formatTime(entry.server_modified)}
          </p>
          <button type="button" onClick={() => setPreview({ ...entry, path })}>Preview</button>{" "}
          <a class="button primary" href={publicUrl(token, "/content", path)} download={entry.name}>
            Download
          </a>
        </div>
      )}
      {preview && (
        <Preview
          name={preview.name}
          size={preview.size}
          url={publicUrl(token, "/content", preview.path)}
          onClose={() => setPreview(null)}
        />
      )}
      {!entry && !error && <p aria-busy="true">Loading…</p>}
      <p>
        <a href="/" onClick={(e) => { e.preventDefault(); navigate("/"); }}>Coffer</a>
      </p>
    </main>
  );
}
