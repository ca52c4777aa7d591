/**
 * Every dispatch pass lists the open jobs and their models by state
 * (jobs.listInStates, jobs.modelsInStates). Those reads must find the open
 * jobs through an index, not by scanning every job the store ever held: a
 * studio's store keeps its finished jobs, and the scan steps over each one's
 * spec JSON (bench/store-history.bench.ts measures the cost).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Store } from "../../coordinator/store/store.ts";
import { insertJob, openTempStore } from "../helpers/store-fixture.ts";

/** The SQL texts `read` prepares, each with the query plan SQLite gives it. */
function plansOf(store: Store, read: () => unknown): Array<{ sql: string; plan: string }> {
  const db = store.db;
  const texts: string[] = [];
  const prepare = db.prepare;
  db.prepare = ((sql: string) => {
    texts.push(sql);
    return prepare.call(db, sql);
  }) as typeof db.prepare;
  try {
    read();
  } finally {
    db.prepare = prepare;
  }
  return texts.map((sql) => {
    // The plan does not depend on the values: "running" for each ? (the states read), a placeholder for each @name.
    const named = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1], 0]));
    const marks = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => "running");
    const explain = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
    const rows = (Object.keys(named).length > 0 ? explain.all(named) : explain.all(...marks)) as Array<{ detail: string }>;
    return { sql, plan: rows.map((r) => r.detail).join(" | ") };
  });
}

test("the dispatch pass's job reads find the open jobs through the state index, not a scan of every job", (t) => {
  const { store } = openTempStore(t);
  for (let i = 0; i < 50; i++) insertJob(store, { id: `job_done_${i}`, state: "done" });
  insertJob(store, { id: "job_open", state: "running" });

  const reads: Array<[string, () => unknown]> = [
    ["listInStates", () => store.jobs.listInStates(["queued", "running", "paused"])],
    ["modelsInStates", () => store.jobs.modelsInStates(["queued", "running"])],
  ];
  for (const [name, read] of reads) {
    const plans = plansOf(store, read);
    const listing = plans.find((p) => /\bFROM jobs\b/.test(p.sql) && /\bstate IN\b/.test(p.sql));
    assert.ok(listing, `${name} reads the jobs by state`);
    assert.match(listing.plan, /USING (COVERING )?INDEX jobs_by_state/, `${name}: ${listing.plan}`);
    assert.doesNotMatch(listing.plan, /SCAN jobs\b/, `${name}: ${listing.plan}`);
  }
  assert.deepEqual(store.jobs.listInStates(["queued", "running", "paused"]).map((j) => j.id), ["job_open"]);
  assert.equal(store.jobs.modelsInStates(["queued", "running"]).length, 1);
});
