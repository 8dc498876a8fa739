import { describe, expect, it } from "vitest";
import { filesOfDrop, totals, type UploadTask } from "./uploads";

/** A fake file-system entry, as `webkitGetAsEntry()` gives for dropped files and folders. */
function fileEntry(name: string, text: string) {
  return { isFile: true, isDirectory: false, name, file: (ok: (f: File) => void) => ok(new File([text], name)) };
}

function folderEntry(name: string, children: object[]) {
  return {
    isFile: false,
    isDirectory: true,
    name,
    // Entries come in batches, then an empty one (the API's contract).
    createReader: () => {
      const batches = [children.slice(0, 1), children.slice(1), []];
      return { readEntries: (ok: (batch: object[]) => void) => ok(batches.shift() ?? []) };
    },
  };
}

function drop(entries: (object | null)[], files: File[] = []) {
  const items = entries.map((entry, i) => ({
    kind: "file",
    webkitGetAsEntry: () => entry,
    getAsFile: () => files[i] ?? null,
  }));
  return items as unknown as DataTransferItemList;
}

describe("filesOfDrop", () => {
  it("walks dropped folders, keeping each file's place under the target folder", async () => {
    const dropped = drop([
      fileEntry("top.txt", "t"),
      folderEntry("photos", [fileEntry("a.jpg", "a"), folderEntry("2026", [fileEntry("b.jpg", "b")]), fileEntry("c.jpg", "c")]),
    ]);
    const files = await filesOfDrop(dropped, "/Projects");
    expect(files.map((f) => f.path).sort()).toEqual([
      "/Projects/photos/2026/b.jpg",
      "/Projects/photos/a.jpg",
      "/Projects/photos/c.jpg",
      "/Projects/top.txt",
    ]);
    const b = files.find((f) => f.path.endsWith("b.jpg"))!;
    expect(await b.file.text()).toBe("b");
  });

  it("takes the files of a drag that has no entries", async () => {
    const files = await filesOfDrop(drop([null], [new File(["x"], "loose.txt")]), "/");
    expect(files.map((f) => f.path)).toEqual(["/loose.txt"]);
  });
});

describe("totals", () => {
  it("counts what is still on its way", () => {
    const task = (sent: number, total: number, status: UploadTask["status"]): UploadTask => ({
      id: sent,
      file: new File([], "f"),
      path: "/f",
      sent,
      total,
      status,
    });
    expect(totals([task(5, 10, "uploading"), task(3, 3, "done"), task(0, 7, "paused")])).toEqual({ sent: 5, total: 17, active: 2 });
  });
});
