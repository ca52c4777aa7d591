import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { fsyncDirAsync, rewriteSyncLater, writeFileSyncLater } from "../../coordinator/sink/durable-fs.ts";
import { renameIntoPlace } from "../../coordinator/sink/result-sink.ts";

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "nightshift-durable-fs-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("fsyncDirAsync settles for a directory and rejects, naming the error, for a missing path or a file", async (t) => {
  const dir = tempDir(t);
  await fsyncDirAsync(dir);
  await assert.rejects(fsyncDirAsync(join(dir, "missing")), { code: "ENOENT" });
  writeFileSync(join(dir, "file"), "x");
  await assert.rejects(fsyncDirAsync(join(dir, "file")), { code: "ENOTDIR" });
});

test("writeFileSyncLater has the bytes in the file at once and settles durable after its fsync; it never overwrites", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "a.frame");
  const { durable } = writeFileSyncLater(path, Buffer.from("frame bytes"));
  assert.equal(readFileSync(path, "utf8"), "frame bytes");
  await durable;
  assert.throws(() => writeFileSyncLater(path, Buffer.from("again")), { code: "EEXIST" });
});

test("rewriteSyncLater replaces a file's end from an offset: in place when the size holds, else cut and written to the new length", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "staged.png");
  await writeFileSyncLater(path, Buffer.from("head|0000000000")).durable;
  await rewriteSyncLater(path, 5, Buffer.from("record+END")).durable;
  assert.equal(readFileSync(path, "utf8"), "head|record+END", "same size");
  await rewriteSyncLater(path, 5, Buffer.from("a longer record+END")).durable;
  assert.equal(readFileSync(path, "utf8"), "head|a longer record+END", "longer");
  await rewriteSyncLater(path, 5, Buffer.from("END")).durable;
  assert.equal(readFileSync(path, "utf8"), "head|END", "shorter: nothing of the old end is left");
  assert.throws(() => rewriteSyncLater(join(dir, "missing"), 0, Buffer.from("x")), { code: "ENOENT" });
});

test("renameIntoPlace names every dir whose entries changed: each target dir, and the parent of each dir it made", (t) => {
  const root = tempDir(t);
  const staging = join(root, "staging");
  mkdirSync(staging);
  mkdirSync(join(root, "out", "old"), { recursive: true });
  const from = (n: string): string => {
    writeFileSync(join(staging, n), n);
    return join(staging, n);
  };
  const dirs = renameIntoPlace([
    { from: from("1"), to: join(root, "out", "old", "f1") }, // existing dir: only itself
    { from: from("2"), to: join(root, "out", "new", "deep", "f2") }, // made new/ and new/deep/
    { from: from("3"), to: join(root, "out", "new", "deep", "f3") },
  ]);
  assert.deepEqual(
    [...dirs].sort(),
    [join(root, "out"), join(root, "out", "new"), join(root, "out", "new", "deep"), join(root, "out", "old")].sort(),
  );
  assert.equal(readFileSync(join(root, "out", "new", "deep", "f3"), "utf8"), "3");
  assert.equal(readFileSync(join(root, "out", "old", "f1"), "utf8"), "1");
});

test("renameIntoPlace fails with ENOENT for a staged file that is not there, in a target dir that is there and in one it makes", (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, "staging"));
  mkdirSync(join(root, "out"));
  const gone = join(root, "staging", "gone");
  assert.throws(() => renameIntoPlace([{ from: gone, to: join(root, "out", "f1") }]), { code: "ENOENT" });
  assert.throws(() => renameIntoPlace([{ from: gone, to: join(root, "out", "new", "f1") }]), { code: "ENOENT" });
  // A target dir that exists is only renamed into (no mkdir first), and named once however many frames go there.
  writeFileSync(join(root, "staging", "a"), "a");
  writeFileSync(join(root, "staging", "b"), "b");
  const dirs = renameIntoPlace([
    { from: join(root, "staging", "a"), to: join(root, "out", "a") },
    { from: join(root, "staging", "b"), to: join(root, "out", "b") },
  ]);
  assert.deepEqual(dirs, [join(root, "out")]);
  assert.equal(readFileSync(join(root, "out", "b"), "utf8"), "b");
});
