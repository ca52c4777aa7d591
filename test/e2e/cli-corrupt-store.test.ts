import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../support/run-cli.ts";
import { tempDir } from "../support/farm.ts";

test("a corrupted SQLite store: the coordinator refuses to start, says so, and leaves the file as it was", async (t) => {
  const dir = tempDir(t, "ns-corrupt-");
  const data = join(dir, "data");
  mkdirSync(data);
  const db = join(data, "nightshift.db");
  // A real SQLite header followed by garbage: what a torn copy or a bad disk leaves.
  const bytes = Buffer.concat([Buffer.from("SQLite format 3\0"), Buffer.alloc(8192, 0x5a)]);
  writeFileSync(db, bytes);
  const before = createHash("sha256").update(readFileSync(db)).digest("hex");
  const r = await runCli(["coordinator", "--data-dir", data, "--output-root", join(dir, "out"), "--listen", "127.0.0.1:0"], { timeoutMs: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /corrupt/i);
  assert.match(r.stderr, /refusing to start/);
  assert.match(r.stderr, /nightshift\.db/);
  assert.equal(createHash("sha256").update(readFileSync(db)).digest("hex"), before, "the store file is untouched");
  assert.deepEqual(readdirSync(data).filter((f) => f !== "nightshift.db" && !f.startsWith("nightshift.db-")), [], "nothing else created in the data dir");
  assert.deepEqual(readdirSync(dir).sort(), ["data"], "no output root created");
});
