// shared/ids.ts: ids from the pooled random bytes stay unique, well formed
// and sorted by time across refills of the pool.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newId } from "../../shared/ids.ts";

test("ids are unique and well formed across many pool refills, and sort by time", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const id = newId("att", 1_000);
    assert.match(id, /^att_0{7}rs[0-9a-f]{12}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 5000, "no id repeats (5000 ids: 7 refills of the pool)");
  const early = newId("job", 1_000);
  const late = newId("job", 2_000);
  assert.ok(early < late, `${early} sorts before ${late}`);
});
