// Live folder updates: a change cursor of the folder, a longpoll that says when something
// changed (through any server instance), then `continue` for what changed.

import { api, must } from "./api/client";
import type { components } from "../generated/schema";

export type Entry = components["schemas"]["EntryResponse"];
export type ChangeItem = components["schemas"]["ChangeItem"];

/**
 * Follows `folder` (not below it) until the returned function is called; `onChanges` gets each
 * batch of changes in order, `onReset` when the cursor can no longer be served (list again).
 */
export function followFolder(
  folder: string,
  onChanges: (changes: ChangeItem[]) => void,
  onReset: () => void,
): () => void {
  let stopped = false;
  const controller = new AbortController();
  const loop = async () => {
    let cursor: string;
    try {
      cursor = must(
        await api.GET("/files/list/latest-cursor", {
          params: { query: { path: folder, recursive: false } },
          signal: controller.signal,
        }),
      ).cursor;
    } catch {
      return;
    }
    let failures = 0;
    while (!stopped) {
      try {
        const waited = must(
          await api.POST("/files/list/longpoll", { body: { cursor, timeout: 60 }, signal: controller.signal }),
        );
        if (!waited.changes) continue;
        let more = true;
        while (more && !stopped) {
          const page = must(
            await api.GET("/files/list/continue", { params: { query: { cursor } }, signal: controller.signal }),
          );
          cursor = page.cursor;
          more = page.has_more;
          if (page.entries.length) onChanges(page.entries);
        }
        failures = 0;
      } catch (error) {
        if (stopped) return;
        if ((error as { code?: string }).code === "cursor_reset") {
          onReset();
          return;
        }
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(30000, 1000 * 2 ** failures)));
      }
    }
  };
  void loop();
  return () => {
    stopped = true;
    controller.abort();
  };
}

/** `entries` of `folder` with `changes` applied (entries elsewhere are ignored). */
export function applyChanges(entries: Entry[], changes: ChangeItem[], folder: string): Entry[] {
  const prefix = folder === "/" ? "/" : `${folder}/`;
  const direct = (path: string) => path.startsWith(prefix) && !path.slice(prefix.length).includes("/");
  const byPath = new Map(entries.map((e) => [e.path.toLowerCase(), e]));
  for (const change of changes) {
    const key = change.path.toLowerCase();
    if (change.kind === "deleted") {
      byPath.delete(key);
      // A deleted folder takes what was below it.
      for (const path of [...byPath.keys()]) if (path.startsWith(`${key}/`)) byPath.delete(path);
    } else if (direct(change.path)) {
      byPath.set(key, change as Entry);
    }
  }
  return [...byPath.values()];
}
