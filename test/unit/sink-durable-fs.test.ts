import assert from "node:assert/strict";
import fs, { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
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

test("writeFileSyncLater makes the file in line and has every byte in it when durable settles; it never overwrites", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "a.frame");
  const { durable } = writeFileSyncLater(path, Buffer.from("frame bytes"));
  assert.ok(existsSync(path), "the file is made before the write is handed to the thread pool");
  await durable;
  assert.equal(readFileSync(path, "utf8"), "frame bytes");
  assert.throws(() => writeFileSyncLater(path, Buffer.from("again")), { code: "EEXIST" });
  assert.equal(readFileSync(path, "utf8"), "frame bytes", "the refused second write left the file alone");
  // A frame of several MiB, a view into a larger buffer (as a frame is a view into its gRPC message): exactly its bytes.
  const message = randomBytes(9 * 1024 * 1024 + 7);
  const frame = message.subarray(5, message.length - 2);
  await writeFileSyncLater(join(dir, "big.frame"), frame).durable;
  assert.ok(readFileSync(join(dir, "big.frame")).equals(frame));
  await writeFileSyncLater(join(dir, "empty.frame"), Buffer.alloc(0)).durable;
  assert.equal(statSync(join(dir, "empty.frame")).size, 0);
});

test("writeFileSyncLater's file is opened O_DSYNC: its one write on the thread pool is its sync", { skip: !existsSync("/proc/self/fdinfo") && "needs Linux /proc to read an open file's flags" }, async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "a.frame");
  const { durable } = writeFileSyncLater(path, randomBytes(1024 * 1024));
  // The fd stays open until the write's callback, which cannot run before this synchronous look.
  const fd = readdirSync("/proc/self/fd").find((n) => {
    try {
      return readlinkSync(`/proc/self/fd/${n}`) === path;
    } catch {
      return false;
    }
  });
  assert.ok(fd !== undefined, "the new file is open while its write runs");
  const flags = Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1] ?? "0", 8);
  await durable;
  for (const [name, bit] of Object.entries({ O_DSYNC: fs.constants.O_DSYNC, O_WRONLY: fs.constants.O_WRONLY })) assert.equal(flags & bit, bit, name);
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
