import { describe, expect, it } from "vitest";
import { applyChanges, type Entry } from "./live";

const file = (path: string, size = 1): Entry => ({
  kind: "file",
  id: path,
  name: path.split("/").pop()!,
  path,
  server_modified: "2026-01-01T00:00:00Z",
  size,
});

describe("applyChanges", () => {
  it("adds, replaces and removes entries of the folder only", () => {
    const before = [file("/docs/a.txt"), file("/docs/b.txt")];
    const after = applyChanges(
      before,
      [
        { ...file("/docs/a.txt", 5) },
        { kind: "deleted", path: "/docs/b.txt" },
        { ...file("/docs/c.txt") },
        { ...file("/docs/sub/deep.txt") },
        { ...file("/elsewhere.txt") },
      ],
      "/docs",
    );
    expect(after.map((e) => [e.path, e.size])).toEqual([
      ["/docs/a.txt", 5],
      ["/docs/c.txt", 1],
    ]);
  });
  it("matches paths without regard to case, as the server does", () => {
    const after = applyChanges([file("/A.txt")], [{ kind: "deleted", path: "/a.TXT" }], "/");
    expect(after).toEqual([]);
  });
});
