// Small helpers: paths, sizes, dates, sorting.

/** The folder holding `path` (`/` for an entry at the root). */
export function parentOf(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

/** `name` inside `folder`. */
export function join(folder: string, name: string): string {
  return folder === "/" ? `/${name}` : `${folder}/${name}`;
}

/** The crumbs of a folder path: `/` and each folder down to it, with their names. */
export function crumbs(path: string): { name: string; path: string }[] {
  const parts = path.split("/").filter(Boolean);
  const out = [{ name: "Files", path: "/" }];
  let at = "";
  for (const part of parts) {
    at += `/${part}`;
    out.push({ name: part, path: at });
  }
  return out;
}

/** Whether `name` can be a file or folder name (the server has the last word). */
export function nameProblem(name: string): string | null {
  if (!name.trim()) return "A name cannot be empty.";
  if (name.includes("/")) return "A name cannot contain “/”.";
  if (name === "." || name === "..") return "“.” and “..” are not names.";
  if (new TextEncoder().encode(name).length > 255) return "A name can be at most 255 bytes long.";
  return null;
}

const UNITS = ["bytes", "KB", "MB", "GB", "TB"];

/** A size for people: `1.5 MB` (decimal units, as file managers show them). */
export function formatSize(bytes: number | null | undefined): string {
  if (bytes == null) return "";
  if (bytes < 1000) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** A time for people, in their locale. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? "" : at.toLocaleString();
}

export type SortKey = "name" | "size" | "modified";

export interface Sortable {
  kind: string;
  name: string;
  size?: number | null;
  server_modified: string;
}

/** Folders first, then by `key` (names compare as people expect: "file 2" before "file 10"). */
export function sortEntries<T extends Sortable>(entries: T[], key: SortKey, descending: boolean): T[] {
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  const sign = descending ? -1 : 1;
  return [...entries].sort((a, b) => {
    const folders = Number(b.kind === "folder") - Number(a.kind === "folder");
    if (folders !== 0) return folders;
    let order = 0;
    if (key === "size") order = (a.size ?? 0) - (b.size ?? 0);
    else if (key === "modified") order = a.server_modified.localeCompare(b.server_modified);
    if (order === 0) order = collator.compare(a.name, b.name);
    return sign * order;
  });
}

/** The app route of a folder: `/files` and the folder's path, each segment escaped. */
export function folderRoute(path: string): string {
  if (path === "/") return "/files";
  return "/files" + path.split("/").map(encodeURIComponent).join("/");
}

/** The folder path of an app route (`/files/a%20b` → `/a b`). */
export function folderOfRoute(route: string): string {
  const rest = route.replace(/^\/files/, "");
  if (!rest || rest === "/") return "/";
  return rest
    .split("/")
    .filter(Boolean)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .reduce((path, name) => join(path, name), "/");
}

/** The download URL of a file (the session cookie authenticates it). */
export function contentUrl(path: string, rev?: string): string {
  const query = new URLSearchParams({ path });
  if (rev) query.set("rev", rev);
  return `/api/v1/files/content?${query.toString()}`;
}
