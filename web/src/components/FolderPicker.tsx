import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import { messageOf } from "../api/problems";
import type { Entry } from "../live";
import { crumbs, parentOf } from "../util";
import { Dialog } from "./Dialog";

/** Picks a folder, browsing from `start`. */
export function FolderPicker(props: { title: string; action: string; start: string; onClose: () => void; onPick: (folder: string) => Promise<void> }) {
  const [at, setAt] = useState(props.start);
  const [folders, setFolders] = useState<Entry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    setFolders(null);
    (async () => {
      const found: Entry[] = [];
      let cursor: string | undefined;
      do {
        const page = must(
          await api.GET("/files/list", { params: { query: cursor ? { cursor, limit: 2000 } : { path: at, limit: 2000 } } }),
        );
        found.push(...page.entries.filter((e) => e.kind === "folder"));
        cursor = page.has_more ? (page.cursor ?? undefined) : undefined;
      } while (cursor && found.length < 10000);
      if (live) setFolders(found);
    })().catch((err) => live && setError(messageOf(err)));
    return () => {
      live = false;
    };
  }, [at]);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <nav class="crumbs" aria-label="Target folder">
        {crumbs(at).map((c) => (
          <button key={c.path} type="button" class="link" onClick={() => setAt(c.path)}>
            {c.name} /
          </button>
        ))}
      </nav>
      <ul class="picker" aria-busy={folders === null}>
        {at !== "/" && (
          <li>
            <button type="button" class="link" onClick={() => setAt(parentOf(at))}>.. (up)</button>
          </li>
        )}
        {(folders ?? []).map((f) => (
          <li key={f.id}>
            <button type="button" class="link" onClick={() => setAt(f.path)}>
              <span class="kind folder" aria-hidden="true" /> {f.name}
            </button>
          </li>
        ))}
        {folders?.length === 0 && <li class="empty">No folders here.</li>}
      </ul>
      {error && <p class="error" role="alert">{error}</p>}
      <footer>
        <button type="button" onClick={props.onClose}>Cancel</button>
        <button
          type="button"
          class="primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await props.onPick(at);
            } catch (err) {
              setError(messageOf(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          {props.action}
        </button>
      </footer>
    </Dialog>
  );
}
