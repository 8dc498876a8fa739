import { describe, expect, it } from "vitest";
import { crumbs, folderOfRoute, folderRoute, formatSize, join, nameProblem, parentOf, sortEntries } from "./util";

describe("paths", () => {
  it("joins and splits", () => {
    expect(join("/", "a")).toBe("/a");
    expect(join("/a", "b c")).toBe("/a/b c");
    expect(parentOf("/a")).toBe("/");
    expect(parentOf("/a/b")).toBe("/a");
  });
  it("makes crumbs", () => {
    expect(crumbs("/")).toEqual([{ name: "Files", path: "/" }]);
    expect(crumbs("/a/b").map((c) => c.path)).toEqual(["/", "/a", "/a/b"]);
  });
  it("round-trips routes, whatever the names hold", () => {
    for (const path of ["/", "/a", "/a b/c%d", "/été/#?&"]) {
      expect(folderOfRoute(folderRoute(path))).toBe(path);
    }
    expect(folderRoute("/a b")).toBe("/files/a%20b");
  });
  it("refuses names the server would refuse", () => {
    expect(nameProblem("ok.txt")).toBeNull();
    expect(nameProblem("")).not.toBeNull();
    expect(nameProblem("a/b")).not.toBeNull();
    expect(nameProblem("..")).not.toBeNull();
    expect(nameProblem("é".repeat(200))).not.toBeNull();
  });
});

describe("formatSize", () => {
  it("uses decimal units", () => {
    expect(formatSize(1)).toBe("1 byte");
    expect(formatSize(999)).toBe("999 bytes");
    expect(formatSize(1500)).toBe("1.5 KB");
    expect(formatSize(25_000_000)).toBe("25 MB");
    expect(formatSize(null)).toBe("");
  });
});

describe("sortEntries", () => {
  const entries = [
    { kind: "file", name: "file 10", size: 5, server_modified: "2026-01-03" },
    { kind: "file", name: "file 2", size: 50, server_modified: "2026-01-01" },
    { kind: "folder", name: "zeta", size: null, server_modified: "2026-01-02" },
  ];
  it("puts folders first and compares numbers in names", () => {
    expect(sortEntries(entries, "name", false).map((e) => e.name)).toEqual(["zeta", "file 2", "file 10"]);
  });
  it("sorts by size and date, both ways", () => {
    expect(sortEntries(entries, "size", true).map((e) => e.name)).toEqual(["zeta", "file 2", "file 10"]);
    expect(sortEntries(entries, "modified", false).map((e) => e.name)).toEqual(["zeta", "file 2", "file 10"]);
    expect(sortEntries(entries, "modified", true).map((e) => e.name)).toEqual(["zeta", "file 10", "file 2"]);
  });
});
