// The file browser: a folder's entries (paged from the API, rendered in a window so that
// 100,000 entries stay smooth), selection, actions, uploads by drag-and-drop, live updates,
// search and previews.

import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, must } from "../api/client";
import { ApiError, messageOf } from "../api/problems";
import { Dialog } from "../components/Dialog";
import { FolderPicker } from "../components/FolderPicker";
import { Preview } from "../components/Preview";
import { UploadPanel } from "../components/UploadPanel";
import { RevisionsDialog } from "../components/RevisionsDialog";
import { ShareDialog } from "../components/ShareDialog";
import { LinkDialog } from "../components/LinkDialog";
import { applyChanges, followFolder, type Entry } from "../live";
import { notify, notifyError } from "../notices";
import { linkClick, navigate } from "../router";
import { refreshAccount } from "../session";
import { enqueue, filesOfDrop, filesOfInput, onUploaded, type Conflict, type PendingFile } from "../uploads";
import { contentUrl, crumbs, folderRoute, formatSize, formatTime, join, nameProblem, parentOf, sortEntries, type SortKey } from "../util";

const ROW_HEIGHT = 44;
const PAGE = 1000;

type Dialogs =
  | { kind: "new-folder" }
  | { kind: "rename"; entry: Entry }
  | { kind: "relocate"; mode: "move" | "copy"; entries: Entry[] }
  | { kind: "delete"; entries: Entry[] }
  | { kind: "conflict"; files: PendingFile[]; taken: string[] }
  | { kind: "preview"; entry: Entry }
  | { kind: "revisions"; entry: Entry }
  | { kind: "share"; entry: Entry }
  | { kind: "link"; entry: Entry }
  | null;

export function FilesPage({ folder }: { folder: string }) {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [loading, setLoading] = useState(true);
  const [complete, setComplete] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({ key: "name", descending: false });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [anchor, setAnchor] = useState<number | null>(null);
  const [focus, setFocus] = useState(0);
  const [dialog, setDialog] = useState<Dialogs>(null);
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Entry[] | null>(null);
  const [dragging, setDragging] = useState(false);
  const cursor = useRef<string | null>(null);
  const generation = useRef(0);

  // Listing: the first page at once, the rest as the list scrolls (or all, to sort by size/date).
  const loadMore = useCallback(async () => {
    const mine = generation.current;
    try {
      const page = must(
        await api.GET("/files/list", {
          params: { query: cursor.current ? { cursor: cursor.current, limit: PAGE } : { path: folder, limit: PAGE } },
        }),
      );
      if (mine !== generation.current) return;
      cursor.current = page.has_more ? (page.cursor ?? null) : null;
      setEntries((now) => [...now, ...page.entries]);
      setComplete(!page.has_more);
      setError(null);
    } catch (err) {
      if (mine === generation.current) setError(messageOf(err));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, [folder]);

  const reload = useCallback(() => {
    generation.current += 1;
    cursor.current = null;
    setEntries([]);
    setComplete(false);
    setLoading(true);
    setSelected(new Set());
    setFocus(0);
    void loadMore();
  }, [loadMore]);

  useEffect(() => {
    reload();
    setQuery("");
    setResults(null);
  }, [folder]);

  // Live: changes made anywhere (another tab, another member, the API) show up here.
  useEffect(() => {
    return followFolder(
      folder,
      (changes) => {
        setEntries((now) => applyChanges(now, changes, folder));
        void refreshAccount().catch(() => undefined);
      },
      reload,
    );
  }, [folder]);

  useEffect(() => onUploaded(() => void refreshAccount().catch(() => undefined)), []);

  // Sorting by anything but the name needs every entry.
  useEffect(() => {
    if (sort.key !== "name" && !complete && !loading) {
      setLoading(true);
      void loadMore();
    }
  }, [sort.key, complete, loading, entries.length]);

  // Search as you type.
  useEffect(() => {
    const text = query.trim();
    if (!text) {
      setResults(null);
      return;
    }
    const timer = setTimeout(async () => {
      try {
        const found = must(await api.GET("/files/search", { params: { query: { query: text, limit: 200 } } }));
        setResults(found.entries);
      } catch (err) {
        notifyError(err);
      }
    }, 200);
    return () => clearTimeout(timer);
  }, [query]);

  const shown = useMemo(
    () => results ?? sortEntries(entries, sort.key, sort.descending),
    [results, entries, sort],
  );
  const chosen = shown.filter((e) => selected.has(e.id));

  const open = (entry: Entry) => {
    if (entry.kind === "folder") navigate(folderRoute(entry.path));
    else setDialog({ kind: "preview", entry });
  };

  const select = (index: number, event: { ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }) => {
    const entry = shown[index];
    if (!entry) return;
    setFocus(index);
    if (event.shiftKey && anchor !== null) {
      const [from, to] = anchor < index ? [anchor, index] : [index, anchor];
      setSelected(new Set(shown.slice(from, to + 1).map((e) => e.id)));
    } else if (event.ctrlKey || event.metaKey) {
      const next = new Set(selected);
      if (next.has(entry.id)) next.delete(entry.id);
      else next.add(entry.id);
      setSelected(next);
      setAnchor(index);
    } else {
      setSelected(new Set([entry.id]));
      setAnchor(index);
    }
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if ((event.target as HTMLElement).closest("input, textarea, dialog")) return;
    const last = shown.length - 1;
    const move = (to: number) => {
      const index = Math.max(0, Math.min(last, to));
      select(index, { ctrlKey: false, metaKey: false, shiftKey: event.shiftKey });
      document.getElementById(`row-${index}`)?.scrollIntoView({ block: "nearest" });
      event.preventDefault();
    };
    if (event.key === "ArrowDown") move(focus + 1);
    else if (event.key === "ArrowUp") move(focus - 1);
    else if (event.key === "Home") move(0);
    else if (event.key === "End") move(last);
    else if (event.key === "Enter" && shown[focus]) open(shown[focus]!);
    else if (event.key === "Delete" && chosen.length) setDialog({ kind: "delete", entries: chosen });
    else if (event.key === "F2" && chosen.length === 1) setDialog({ kind: "rename", entry: chosen[0]! });
    else if (event.key === "a" && (event.ctrlKey || event.metaKey)) {
      setSelected(new Set(shown.map((e) => e.id)));
      event.preventDefault();
    } else if (event.key === "Escape") setSelected(new Set());
    else if (event.key === "Backspace" && folder !== "/") navigate(folderRoute(parentOf(folder)));
  };

  // Uploads: ask first when names are taken.
  const upload = async (files: PendingFile[]) => {
    if (!files.length) return;
    const names = new Set(entries.map((e) => e.name.toLowerCase()));
    const taken = files
      .map((f) => f.path.slice(folder === "/" ? 1 : folder.length + 1).split("/")[0] ?? "")
      .filter((name, i, all) => names.has(name.toLowerCase()) && all.indexOf(name) === i);
    if (taken.length) setDialog({ kind: "conflict", files, taken });
    else enqueue(files, "keep-both");
  };

  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  return (
    <section
      class={`files${dragging ? " dragging" : ""}`}
      onKeyDown={onKeyDown}
      onDragOver={(event) => {
        if (event.dataTransfer?.types.includes("Files")) {
          event.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={(event) => {
        if (event.currentTarget === event.target) setDragging(false);
      }}
      onDrop={async (event) => {
        event.preventDefault();
        setDragging(false);
        if (event.dataTransfer) await upload(await filesOfDrop(event.dataTransfer.items, folder));
      }}
    >
      <nav class="crumbs" aria-label="Folder">
        {crumbs(folder).map((crumb, i, all) => (
          <span key={crumb.path}>
            {i === all.length - 1 ? (
              <strong aria-current="page">{crumb.name}</strong>
            ) : (
              <a href={folderRoute(crumb.path)} onClick={(e) => linkClick(e, folderRoute(crumb.path))}>
                {crumb.name}
              </a>
            )}
            {i < all.length - 1 && <span class="sep" aria-hidden="true">/</span>}
          </span>
        ))}
      </nav>

      <div class="toolbar" role="toolbar" aria-label="Actions">
        <button type="button" onClick={() => setDialog({ kind: "new-folder" })}>New folder</button>
        <button type="button" onClick={() => fileInput.current?.click()}>Upload files</button>
        <button type="button" onClick={() => folderInput.current?.click()}>Upload folder</button>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          data-testid="file-input"
          onChange={(e) => {
            const files = e.currentTarget.files;
            if (files) void upload(filesOfInput(files, folder));
            e.currentTarget.value = "";
          }}
        />
        <input
          ref={folderInput}
          type="file"
          multiple
          hidden
          {...{ webkitdirectory: true }}
          onChange={(e) => {
            const files = e.currentTarget.files;
            if (files) void upload(filesOfInput(files, folder));
            e.currentTarget.value = "";
          }}
        />
        <span class="spacer" />
        {chosen.length === 1 && chosen[0]!.kind === "file" && (
          <>
            <a class="button" href={contentUrl(chosen[0]!.path)} download={chosen[0]!.name}>Download</a>
            <button type="button" onClick={() => setDialog({ kind: "revisions", entry: chosen[0]! })}>Versions</button>
          </>
        )}
        {chosen.length === 1 && chosen[0]!.kind === "folder" && (
          <button type="button" onClick={() => setDialog({ kind: "share", entry: chosen[0]! })}>Share</button>
        )}
        {chosen.length === 1 && <button type="button" onClick={() => setDialog({ kind: "link", entry: chosen[0]! })}>Link</button>}
        {chosen.length === 1 && <button type="button" onClick={() => setDialog({ kind: "rename", entry: chosen[0]! })}>Rename</button>}
        {chosen.length > 0 && (
          <>
            <button type="button" onClick={() => setDialog({ kind: "relocate", mode: "move", entries: chosen })}>Move</button>
            <button type="button" onClick={() => setDialog({ kind: "relocate", mode: "copy", entries: chosen })}>Copy</button>
            <button type="button" class="danger" onClick={() => setDialog({ kind: "delete", entries: chosen })}>Delete</button>
          </>
        )}
        <input
          type="search"
          class="search"
          placeholder="Search files"
          aria-label="Search files by name"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
      </div>

      {error && <p class="error" role="alert">{error} <button type="button" onClick={reload}>Try again</button></p>}

      <div class="list" role="grid" aria-label={results ? "Search results" : "Folder contents"} aria-rowcount={shown.length} tabIndex={0}>
        <div class="row head" role="row">
          {(
            [
              ["name", "Name"],
              ["size", "Size"],
              ["modified", "Modified"],
            ] as [SortKey, string][]
          ).map(([key, label]) => (
            <span
              key={key}
              role="columnheader"
              class={`col-${key}`}
              aria-sort={sort.key === key ? (sort.descending ? "descending" : "ascending") : "none"}
            >
              <button
                type="button"
                disabled={results !== null}
                onClick={() => setSort({ key, descending: sort.key === key ? !sort.descending : false })}
              >
                {label}
                {sort.key === key && <span aria-hidden="true">{sort.descending ? " ▼" : " ▲"}</span>}
              </button>
            </span>
          ))}
        </div>
        <WindowedRows
          count={shown.length}
          onNearEnd={() => {
            if (!complete && !loading && results === null) {
              setLoading(true);
              void loadMore();
            }
          }}
          render={(index) => {
            const entry = shown[index]!;
            const isSelected = selected.has(entry.id);
            return (
              <div
                id={`row-${index}`}
                key={entry.id}
                role="row"
                aria-selected={isSelected}
                class={`row${isSelected ? " selected" : ""}${index === focus ? " focused" : ""}`}
                onClick={(e) => select(index, e)}
                onDblClick={() => open(entry)}
              >
                <span class="col-name" role="gridcell">
                  <span class={`kind ${entry.kind}`} aria-hidden="true" />
                  <a
                    href={entry.kind === "folder" ? folderRoute(entry.path) : contentUrl(entry.path)}
                    onClick={(e) => {
                      if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                      e.preventDefault();
                      e.stopPropagation();
                      open(entry);
                    }}
                  >
                    {entry.name}
                  </a>
                  {results && <small class="where"> in {parentOf(entry.path)}</small>}
                  {entry.shared_folder_id && <small class="badge">shared</small>}
                </span>
                <span class="col-size" role="gridcell">{entry.kind === "file" ? formatSize(entry.size) : ""}</span>
                <span class="col-modified" role="gridcell">{formatTime(entry.server_modified)}</span>
              </div>
            );
          }}
        />
        {!loading && shown.length === 0 && (
          <p class="empty">{results ? "Nothing matches." : "This folder is empty. Drop files here to upload them."}</p>
        )}
        {loading && <p class="empty" aria-busy="true">Loading…</p>}
      </div>

      <UploadPanel />

      {dialog?.kind === "new-folder" && (
        <NameDialog
          title="New folder"
          action="Create"
          initial=""
          onClose={() => setDialog(null)}
          onSubmit={async (name) => {
            must(await api.POST("/files/folders", { body: { path: join(folder, name) } }));
            setDialog(null);
          }}
        />
      )}
      {dialog?.kind === "rename" && (
        <NameDialog
          title={`Rename “${dialog.entry.name}”`}
          action="Rename"
          initial={dialog.entry.name}
          onClose={() => setDialog(null)}
          onSubmit={async (name) => {
            must(await api.POST("/files/move", { body: { from: dialog.entry.path, to: join(parentOf(dialog.entry.path), name) } }));
            setDialog(null);
          }}
        />
      )}
      {dialog?.kind === "relocate" && (
        <FolderPicker
          title={`${dialog.mode === "move" ? "Move" : "Copy"} ${describeEntries(dialog.entries)} to…`}
          action={dialog.mode === "move" ? "Move here" : "Copy here"}
          start={folder}
          onClose={() => setDialog(null)}
          onPick={async (target) => {
            for (const entry of dialog.entries) {
              const body = { from: entry.path, to: join(target, entry.name), autorename: true };
              if (dialog.mode === "move") must(await api.POST("/files/move", { body }));
              else must(await api.POST("/files/copy", { body }));
            }
            setDialog(null);
            notify(`${dialog.mode === "move" ? "Moved" : "Copied"} ${describeEntries(dialog.entries)}.`);
          }}
        />
      )}
      {dialog?.kind === "delete" && (
        <ConfirmDialog
          title={`Delete ${describeEntries(dialog.entries)}?`}
          text="Deleted items go to the trash, where they can be restored."
          action="Delete"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            for (const entry of dialog.entries) must(await api.POST("/files/delete", { body: { path: entry.path } }));
            setSelected(new Set());
            setDialog(null);
            void refreshAccount().catch(() => undefined);
          }}
        />
      )}
      {dialog?.kind === "conflict" && (
        <ConflictDialog
          taken={dialog.taken}
          onClose={() => setDialog(null)}
          onChoose={(choice: Conflict) => {
            enqueue(dialog.files, choice);
            setDialog(null);
          }}
        />
      )}
      {dialog?.kind === "preview" && (
        <Preview name={dialog.entry.name} size={dialog.entry.size} url={contentUrl(dialog.entry.path)} onClose={() => setDialog(null)} />
      )}
      {dialog?.kind === "revisions" && <RevisionsDialog entry={dialog.entry} onClose={() => setDialog(null)} />}
      {dialog?.kind === "share" && (
        <ShareDialog
          entry={dialog.entry}
          onClose={() => {
            setDialog(null);
            reload();
          }}
        />
      )}
      {dialog?.kind === "link" && <LinkDialog entry={dialog.entry} onClose={() => setDialog(null)} />}
    </section>
  );
}

function describeEntries(entries: Entry[]): string {
  return entries.length === 1 ? `“${entries[0]!.name}”` : `${entries.length} items`;
}

/** Renders only the rows in view (plus a margin), so very long lists stay smooth. */
function WindowedRows(props: { count: number; render: (index: number) => preact.JSX.Element; onNearEnd: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [range, setRange] = useState({ from: 0, to: 60 });
  useEffect(() => {
    const update = () => {
      const top = ref.current?.getBoundingClientRect().top ?? 0;
      const first = Math.max(0, Math.floor(-top / ROW_HEIGHT) - 20);
      const last = Math.min(props.count, Math.ceil((window.innerHeight - top) / ROW_HEIGHT) + 20);
      setRange((now) => (now.from === first && now.to === last ? now : { from: first, to: last }));
      if (last >= props.count - 50) props.onNearEnd();
    };
    update();
    window.addEventListener("scroll", update, { passive: true });
    window.addEventListener("resize", update);
    return () => {
      window.removeEventListener("scroll", update);
      window.removeEventListener("resize", update);
    };
  }, [props.count, props.onNearEnd]);
  const rows = [];
  for (let i = range.from; i < Math.min(range.to, props.count); i++) rows.push(props.render(i));
  return (
    <div ref={ref} class="rows" style={{ height: `${props.count * ROW_HEIGHT}px` }}>
      <div class="window" style={{ transform: `translateY(${range.from * ROW_HEIGHT}px)` }}>
        {rows}
      </div>
    </div>
  );
}

function NameDialog(props: { title: string; action: string; initial: string; onClose: () => void; onSubmit: (name: string) => Promise<void> }) {
  const [name, setName] = useState(props.initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          const problem = nameProblem(name);
          if (problem) {
            setError(problem);
            return;
          }
          setBusy(true);
          try {
            await props.onSubmit(name);
          } catch (err) {
            setError(messageOf(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          Name
          <input autoFocus required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <footer>
          <button type="button" onClick={props.onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>{props.action}</button>
        </footer>
      </form>
    </Dialog>
  );
}

export function ConfirmDialog(props: { title: string; text: string; action: string; onClose: () => void; onConfirm: () => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <p>{props.text}</p>
      {error && <p class="error" role="alert">{error}</p>}
      <footer>
        <button type="button" onClick={props.onClose}>Cancel</button>
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await props.onConfirm();
            } catch (err) {
              setError(err instanceof ApiError ? err.message : messageOf(err));
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

function ConflictDialog(props: { taken: string[]; onClose: () => void; onChoose: (choice: Conflict) => void }) {
  const names = props.taken.slice(0, 5).map((n) => `“${n}”`).join(", ");
  return (
    <Dialog title="Some names are taken" onClose={props.onClose}>
      <p>
        {names}
        {props.taken.length > 5 ? ` and ${props.taken.length - 5} more` : ""} {props.taken.length === 1 ? "is" : "are"} already in this
        folder. Keep both (the new {props.taken.length === 1 ? "one gets" : "ones get"} a number), or replace what is there (its
        earlier version stays in its history)?
      </p>
      <footer>
        <button type="button" onClick={props.onClose}>Cancel</button>
        <button type="button" onClick={() => props.onChoose("replace")}>Replace</button>
        <button type="button" class="primary" onClick={() => props.onChoose("keep-both")}>Keep both</button>
      </footer>
    </Dialog>
  );
}
