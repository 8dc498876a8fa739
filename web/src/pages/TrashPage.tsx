import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components } from "../../generated/schema";
import { messageOf } from "../api/problems";
import { notify, notifyError } from "../notices";
import { refreshAccount } from "../session";
import { formatSize, formatTime } from "../util";
import { ConfirmDialog } from "./FilesPage";

type TrashItem = components["schemas"]["TrashItem"];

export function TrashPage() {
  const [items, setItems] = useState<TrashItem[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirmEmpty, setConfirmEmpty] = useState(false);

  const load = async (cursor?: string) => {
    try {
      const page = must(await api.GET("/trash", { params: { query: cursor ? { cursor, limit: 500 } : { limit: 500 } } }));
      setItems((now) => (cursor ? [...(now ?? []), ...page.items] : page.items));
      setNext(page.next_cursor ?? null);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const remove = (id: string) => setItems((now) => (now ?? []).filter((i) => i.id !== id));
  return (
    <section class="trash">
      <header class="page-head">
        <h1>Trash</h1>
        <button type="button" class="danger" disabled={!items?.length} onClick={() => setConfirmEmpty(true)}>
          Empty trash
        </button>
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      <ul class="items" aria-busy={items === null}>
        {(items ?? []).map((item) => (
          <li key={item.id}>
            <span class={`kind ${item.kind}`} aria-hidden="true" />
            <span class="grow">
              {item.original_path}
              <small> · deleted {formatTime(item.trashed_at)} {item.size != null && `· ${formatSize(item.size)}`}</small>
            </span>
            <button
              type="button"
              onClick={async () => {
                try {
                  const restored = must(await api.POST("/trash/{id}/restore", { params: { path: { id: item.id } }, body: { autorename: true } }));
                  remove(item.id);
                  notify(`Restored to ${restored.path}.`);
                  void refreshAccount().catch(() => undefined);
                } catch (err) {
                  notifyError(err);
                }
              }}
            >
              Restore
            </button>
            <button
              type="button"
              class="danger"
              onClick={async () => {
                try {
                  await api.DELETE("/trash/{id}", { params: { path: { id: item.id } } });
                  remove(item.id);
                  void refreshAccount().catch(() => undefined);
                } catch (err) {
                  notifyError(err);
                }
              }}
            >
              Delete for good
            </button>
          </li>
        ))}
        {items?.length === 0 && <li class="empty">The trash is empty.</li>}
      </ul>
      {next && <button type="button" onClick={() => void load(next)}>Show more</button>}
      {confirmEmpty && (
        <ConfirmDialog
          title="Empty the trash?"
          text="Everything in the trash is deleted for good. This cannot be undone."
          action="Empty trash"
          onClose={() => setConfirmEmpty(false)}
          onConfirm={async () => {
            const emptied = must(await api.DELETE("/trash"));
            setItems([]);
            setNext(null);
            setConfirmEmpty(false);
            notify(`Deleted ${emptied.deleted} ${emptied.deleted === 1 ? "item" : "items"} for good.`);
            void refreshAccount().catch(() => undefined);
          }}
        />
      )}
    </section>
  );
}
