import { test } from "node:test";
import assert from "node:assert/strict";
import { insertAgent, openTempStore } from "../helpers/store-fixture.ts";

test("liveness() is get() narrowed to the liveness columns, and follows every write", (t) => {
  const { store } = openTempStore(t);
  insertAgent(store, { id: "agt_b", now: 5_000 });
  const pick = (id: string) => {
    const a = store.agents.get(id);
    return a && { id: a.id, name: a.name, state: a.state, address: a.address, lastSeen: a.lastSeen };
  };
  assert.deepEqual(store.agents.liveness("agt_b"), pick("agt_b"));
  store.agents.touchMany(new Map([["agt_b", 9_000]]));
  store.agents.transition("agt_b", "offline");
  assert.deepEqual(store.agents.liveness("agt_b"), { ...pick("agt_b"), lastSeen: 9_000, state: "offline" });
  assert.equal(store.agents.liveness("agt_none"), undefined);
});

test("listLiveness(state) holds the agents in that state only, in list() order", (t) => {
  const { store } = openTempStore(t);
  for (const id of ["agt_c", "agt_a", "agt_d", "agt_b"]) insertAgent(store, { id });
  store.agents.transition("agt_d", "offline");
  const online = store.agents.list().filter((a) => a.state === "online").map((a) => a.id);
  assert.deepEqual(store.agents.listLiveness("online").map((a) => a.id), online);
  assert.deepEqual(online, ["agt_a", "agt_b", "agt_c"]);
  assert.deepEqual(store.agents.listLiveness("offline").map((a) => a.id), ["agt_d"]);
});
