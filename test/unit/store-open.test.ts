import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, truncateSync, writeFileSync, openSync, writeSync, closeSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { Store } from "../../coordinator/store/store.ts";
import { CorruptStoreError, openDatabase } from "../../coordinator/store/open-database.ts";
import { MIGRATIONS } from "../../coordinator/store/migrations.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { insertAgent, insertChunks, insertJob } from "../helpers/store-fixture.ts";

const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Creates a real, closed store file holding one job with two chunks. */
function makeRealStore(dir: string): string {
  const path = join(dir, "store.sqlite");
  const store = Store.open(path);
  const job = insertJob(store, { id: "job_real" });
  insertChunks(store, job.id, [[0, 4], [5, 9]]);
  store.close();
  return path;
}

test("a fresh file is created and fully migrated, in WAL mode with foreign keys on", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "nested", "dir", "store.sqlite");
  const store = Store.open(path);
  t.after(() => store.close());
  assert.ok(existsSync(path), "the store file is created, parent dirs included");
  assert.equal(store.db.pragma("user_version", { simple: true }), MIGRATIONS.length);
  assert.equal(store.db.pragma("journal_mode", { simple: true }), "wal");
  assert.equal(store.db.pragma("foreign_keys", { simple: true }), 1);
  assert.equal(store.db.pragma("temp_store", { simple: true }), 2, "savepoints' sub-journals in memory (thirteenth round)");
  const tables = (store.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name);
  for (const name of ["agents", "attempts", "chunks", "frames", "jobs", "ledger"]) assert.ok(tables.includes(name), `table ${name} exists`);
});

test("reopening keeps rows and does not re-run migrations", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "store.sqlite");
  const first = Store.open(path);
  const job = insertJob(first, { id: "job_keep", priority: 5 });
  insertChunks(first, job.id, [[0, 2]]);
  insertAgent(first, { id: "agt_keep" });
  first.close();

  const again = Store.open(path);
  t.after(() => again.close());
  assert.equal(again.db.pragma("user_version", { simple: true }), MIGRATIONS.length);
  assert.equal(again.jobs.get("job_keep")?.priority, 5);
  assert.deepEqual(again.chunks.listByJob("job_keep").map((c) => [c.frameStart, c.frameEnd, c.state]), [[0, 2, "pending"]]);
  assert.equal(again.agents.get("agt_keep")?.state, "online");
});

test("foreign keys are enforced: a chunk of an unknown job is rejected", (t) => {
  const dir = tempDir(t);
  const store = Store.open(join(dir, "store.sqlite"));
  t.after(() => store.close());
  assert.throws(() => insertChunks(store, "job_missing", [[0, 1]]), /FOREIGN KEY/);
});

test("a file of random bytes is refused with CorruptStoreError and left untouched", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "store.sqlite");
  writeFileSync(path, randomBytes(8192));
  const before = sha(path);
  assert.throws(
    () => openDatabase(path),
    (err: unknown) => err instanceof CorruptStoreError && err.path === path && /refusing to start/.test(err.message),
  );
  assert.equal(sha(path), before, "the corrupt file is not replaced or modified");
  assert.equal(statSync(path).size, 8192);
});

test("a real store with a smashed header is refused and not replaced", (t) => {
  const dir = tempDir(t);
  const path = makeRealStore(dir);
  // Overwrite the 16-byte magic "SQLite format 3\0".
  const fd = openSync(path, "r+");
  writeSync(fd, Buffer.alloc(16, 0x42), 0, 16, 0);
  closeSync(fd);
  const before = sha(path);
  assert.throws(() => Store.open(path), CorruptStoreError);
  assert.equal(sha(path), before);
});

test("a real store truncated mid-file is refused and not replaced", (t) => {
  const dir = tempDir(t);
  const path = makeRealStore(dir);
  const size = statSync(path).size;
  assert.ok(size >= 4096 * 3, `store has several pages (${size} bytes)`);
  truncateSync(path, Math.floor(size / 2) + 100);
  const before = sha(path);
  assert.throws(() => Store.open(path), CorruptStoreError);
  assert.equal(sha(path), before);
});

test("a store written by a newer nightshift (higher user_version) is refused", (t) => {
  const dir = tempDir(t);
  const path = makeRealStore(dir);
  const raw = new Database(path);
  raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  raw.close();
  assert.throws(
    () => Store.open(path),
    (err: unknown) => err instanceof CorruptStoreError && /newer than this nightshift/.test(err.message),
  );
  // The refusal did not downgrade or wipe it.
  const check = new Database(path, { readonly: true });
  t.after(() => check.close());
  assert.equal(check.pragma("user_version", { simple: true }), MIGRATIONS.length + 1);
  assert.equal((check.prepare(`SELECT COUNT(*) AS n FROM chunks`).get() as { n: number }).n, 2);
});
