// Uploads through the tus endpoint (`/api/v1/uploads`, tus-js-client): per-file and total
// progress, pause and resume, and resuming after a page reload (drop the same file again: its
// fingerprint finds the upload the server kept).

import * as tus from "tus-js-client";
import { csrfHeaders } from "./api/client";
import { ApiError, errorFrom, messageOf, type Problem } from "./api/problems";
import { store } from "./store";
import { join } from "./util";

export type UploadStatus = "queued" | "uploading" | "paused" | "done" | "failed";

/** What to do when something is already at the target path. */
export type Conflict = "keep-both" | "replace";

export interface UploadTask {
  id: number;
  file: File;
  path: string;
  sent: number;
  total: number;
  status: UploadStatus;
  error?: string;
  /** Bytes the server had kept from an earlier attempt (a resumed upload starts there). */
  resumedFrom?: number;
}

export const uploads = store<UploadTask[]>([]);

const running = new Map<number, tus.Upload>();
let nextId = 1;
const PARALLEL = 3;
const listeners = new Set<(task: UploadTask) => void>();

/** Called when an upload is committed (the file is in its folder). */
export function onUploaded(listener: (task: UploadTask) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function update(id: number, change: Partial<UploadTask>): void {
  uploads.set(uploads.get().map((task) => (task.id === id ? { ...task, ...change } : task)));
}

function task(id: number): UploadTask | undefined {
  return uploads.get().find((t) => t.id === id);
}

/** A file to upload and where it goes (its folder's path plus its relative path). */
export interface PendingFile {
  file: File;
  path: string;
}

/** Queues files; `conflict` says what happens where a file of that name exists. */
export function enqueue(files: PendingFile[], conflict: Conflict): void {
  const added = files.map<UploadTask>(({ file, path }) => ({
    id: nextId++,
    file,
    path,
    sent: 0,
    total: file.size,
    status: "queued",
  }));
  uploads.set([...uploads.get(), ...added]);
  for (const t of added) conflicts.set(t.id, conflict);
  pump();
}

const conflicts = new Map<number, Conflict>();

function pump(): void {
  const active = uploads.get().filter((t) => t.status === "uploading").length;
  const waiting = uploads.get().filter((t) => t.status === "queued");
  for (const t of waiting.slice(0, Math.max(0, PARALLEL - active))) start(t);
}

function start(t: UploadTask): void {
  const conflict = conflicts.get(t.id) ?? "keep-both";
  const metadata: Record<string, string> = {
    path: t.path,
    filetype: t.file.type || "application/octet-stream",
    client_modified: new Date(t.file.lastModified || Date.now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
  if (conflict === "replace") metadata.mode = "overwrite";
  else metadata.autorename = "true";
  const upload = new tus.Upload(t.file, {
    endpoint: "/api/v1/uploads",
    metadata,
    headers: csrfHeaders(),
    chunkSize: 16 * 1024 * 1024,
    retryDelays: [0, 1000, 3000, 5000, 10000],
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    // The target path is part of the fingerprint: the same file dropped into two folders is
    // two uploads.
    fingerprint: async (file) =>
      ["coffer", t.path, file.name, file.type, file.size, file.lastModified].join("|"),
    onProgress: (sent, total) => update(t.id, { sent, total }),
    onSuccess: () => {
      running.delete(t.id);
      update(t.id, { status: "done", sent: t.total });
      const done = task(t.id);
      if (done) for (const listener of listeners) listener(done);
      pump();
    },
    onError: (error) => {
      running.delete(t.id);
      void describeTusError(error).then((message) => update(t.id, { status: "failed", error: message }));
      pump();
    },
    onShouldRetry: (error) => {
      const status = (error as tus.DetailedError).originalResponse?.getStatus() ?? 0;
      // Client errors (refused by a scanner, over quota, a conflict) will not go away.
      return status === 0 || (status >= 500 && status !== 507);
    },
  });
  running.set(t.id, upload);
  update(t.id, { status: "uploading", error: undefined });
  void upload.findPreviousUploads().then((previous) => {
    const earlier = previous[0];
    if (earlier) {
      upload.resumeFromPreviousUpload(earlier);
      update(t.id, { resumedFrom: -1 });
    }
    upload.start();
  });
}

/** Pauses a running upload (the server keeps what arrived). */
export function pause(id: number): void {
  const upload = running.get(id);
  if (!upload) return;
  void upload.abort(false);
  running.delete(id);
  update(id, { status: "paused" });
  pump();
}

/** Resumes a paused or failed upload where the server's copy stops. */
export function resume(id: number): void {
  const t = task(id);
  if (!t || (t.status !== "paused" && t.status !== "failed")) return;
  update(id, { status: "queued", error: undefined });
  pump();
}

/** Cancels an upload: the server forgets what it kept. */
export function cancel(id: number): void {
  const upload = running.get(id);
  running.delete(id);
  if (upload) void upload.abort(true);
  uploads.set(uploads.get().filter((t) => t.id !== id));
  pump();
}

/** Forgets finished uploads. */
export function clearFinished(): void {
  uploads.set(uploads.get().filter((t) => t.status !== "done"));
}

/** Uploads the page started before it was reloaded, which the same files can resume. */
export async function unfinishedFromEarlier(): Promise<{ path: string; size: number | null }[]> {
  try {
    const previous = await tus.defaultOptions.urlStorage.findAllUploads();
    return previous
      .filter((p) => typeof p.metadata?.path === "string")
      .map((p) => ({ path: p.metadata.path as string, size: p.size }));
  } catch {
    return [];
  }
}

/** Totals over the uploads not yet done. */
export function totals(tasks: UploadTask[]): { sent: number; total: number; active: number } {
  const open = tasks.filter((t) => t.status !== "done");
  return {
    sent: open.reduce((n, t) => n + t.sent, 0),
    total: open.reduce((n, t) => n + t.total, 0),
    active: open.length,
  };
}

async function describeTusError(error: Error): Promise<string> {
  const response = (error as tus.DetailedError).originalResponse;
  if (!response) return messageOf(error);
  const status = response.getStatus();
  const body = response.getBody();
  if (status === 460) return "The file changed while it was being sent. Upload it again.";
  try {
    const problem = JSON.parse(body) as Problem;
    if (problem && typeof problem.code === "string") {
      const converted = await errorFrom(
        new Response(body, { status, headers: { "content-type": "application/problem+json" } }),
      );
      return converted.message;
    }
  } catch {
    // Not a problem document.
  }
  return messageOf(new ApiError({ code: status >= 500 ? "internal_error" : "unknown", status, title: `HTTP ${status}`, detail: "" }, `The upload failed (HTTP ${status}).`));
}

/** Reads the files of a drop, walking dropped folders, each with its path under `folder`. */
export async function filesOfDrop(items: DataTransferItemList, folder: string): Promise<PendingFile[]> {
  const entries: FileSystemEntry[] = [];
  const out: PendingFile[] = [];
  for (const item of Array.from(items)) {
    if (item.kind !== "file") continue;
    const entry = item.webkitGetAsEntry();
    if (entry) entries.push(entry);
    else {
      // No entry (a drag that did not come from the file system): the file itself.
      const file = item.getAsFile();
      if (file) out.push({ file, path: join(folder, file.name) });
    }
  }
  const walk = async (entry: FileSystemEntry, at: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) =>
        (entry as FileSystemFileEntry).file(resolve, reject),
      );
      out.push({ file, path: join(at, entry.name) });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      const children: FileSystemEntry[] = [];
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        children.push(...batch);
      }
      for (const child of children) await walk(child, join(at, entry.name));
    }
  };
  for (const entry of entries) await walk(entry, folder);
  return out;
}

/** The files of an `<input type=file>` (with `webkitdirectory`, their relative paths kept). */
export function filesOfInput(files: FileList, folder: string): PendingFile[] {
  return Array.from(files).map((file) => {
    const relative = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    return { file, path: relative.split("/").filter(Boolean).reduce((at, name) => join(at, name), folder) };
  });
}
