import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components } from "../../generated/schema";
import { messageOf } from "../api/problems";
import type { Entry } from "../live";
import { notify } from "../notices";
import { contentUrl, formatSize, formatTime } from "../util";
import { Dialog } from "./Dialog";

type Revision = components["schemas"]["RevisionResponse"];

/** A file's versions: download any, restore an earlier one. */
export function RevisionsDialog({ entry, onClose }: { entry: Entry; onClose: () => void }) {
  const [revisions, setRevisions] = useState<Revision[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api
      .GET("/files/revisions", { params: { query: { path: entry.path, limit: 100 } } })
      .then((r) => setRevisions(must(r).revisions))
      .catch((err) => setError(messageOf(err)));
  useEffect(() => {
    void load();
  }, [entry.path]);
  return (
    <Dialog title={`Versions of “${entry.name}”`} onClose={onClose}>
      {error && <p class="error" role="alert">{error}</p>}
      <ul class="revisions" aria-busy={revisions === null}>
        {(revisions ?? []).map((rev, i) => (
          <li key={rev.rev}>
            <span>
              {formatTime(rev.server_modified)} · {formatSize(rev.size)}
              {i === 0 && <strong> (current)</strong>}
            </span>
            <a class="button" href={contentUrl(entry.path, rev.rev)} download={entry.name}>Download</a>
            {i > 0 && (
              <button
                type="button"
                onClick={async () => {
                  try {
                    must(await api.POST("/files/restore-revision", { body: { path: entry.path, rev: rev.rev } }));
                    notify(`Restored the version of ${formatTime(rev.server_modified)}.`);
                    await load();
                  } catch (err) {
                    setError(messageOf(err));
                  }
                }}
              >
                Restore
              </button>
            )}
          </li>
        ))}
      </ul>
    </Dialog>
  );
}
