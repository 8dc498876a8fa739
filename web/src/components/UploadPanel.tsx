import { useEffect, useState } from "preact/hooks";
import { cancel, clearFinished, pause, resume, totals, unfinishedFromEarlier, uploads } from "../uploads";
import { useStore } from "../store";
import { formatSize } from "../util";

/** Uploads in progress: each file's bar, the total, pause, resume and cancel. */
export function UploadPanel() {
  const tasks = useStore(uploads);
  const [earlier, setEarlier] = useState<{ path: string; size: number | null }[]>([]);
  useEffect(() => {
    void unfinishedFromEarlier().then(setEarlier);
  }, [tasks.length === 0]);
  const sum = totals(tasks);
  const pending = earlier.filter((e) => !tasks.some((t) => t.path === e.path));
  if (!tasks.length && !pending.length) return null;
  return (
    <aside class="uploads" aria-label="Uploads">
      {sum.active > 0 && (
        <div class="upload-total">
          <span>
            Uploading {sum.active} {sum.active === 1 ? "file" : "files"}: {formatSize(sum.sent)} of {formatSize(sum.total)}
          </span>
          <progress max={sum.total || 1} value={sum.sent} aria-label="All uploads" />
        </div>
      )}
      <ul>
        {tasks.map((t) => (
          <li key={t.id} class={`upload ${t.status}`} data-path={t.path}>
            <span class="upload-name" title={t.path}>{t.path}</span>
            <progress max={t.total || 1} value={t.status === "done" ? t.total || 1 : t.sent} aria-label={`Upload of ${t.path}`} />
            <span class="upload-state">
              {t.status === "done" ? "Done" : t.status === "failed" ? t.error : t.status === "paused" ? "Paused" : `${Math.floor((t.sent / (t.total || 1)) * 100)}%`}
            </span>
            {t.status === "uploading" && <button type="button" onClick={() => pause(t.id)}>Pause</button>}
            {(t.status === "paused" || t.status === "failed") && <button type="button" onClick={() => resume(t.id)}>Resume</button>}
            {t.status !== "done" && <button type="button" onClick={() => cancel(t.id)}>Cancel</button>}
          </li>
        ))}
      </ul>
      {pending.length > 0 && (
        <p class="hint">
          {pending.length === 1 ? "An upload" : `${pending.length} uploads`} from before the page was reloaded can continue where
          {pending.length === 1 ? " it" : " they"} stopped: add the same {pending.length === 1 ? "file" : "files"} to the same folder again (
          {pending.slice(0, 3).map((p) => p.path).join(", ")}).
        </p>
      )}
      {tasks.some((t) => t.status === "done") && (
        <button type="button" class="link" onClick={clearFinished}>Clear finished</button>
      )}
    </aside>
  );
}
