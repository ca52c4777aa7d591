import assert from "node:assert/strict";
import { test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { assetPrefetcher } from "../../coordinator/assets/asset-prefetch.ts";
import { AgentControlSchema, decodeJson, type Heartbeat } from "../../shared/protocol/messages.ts";
import { subjects } from "../../shared/protocol/subjects.ts";
import { silentLogger } from "../../shared/log.ts";
import { insertJob, openTempStore } from "../helpers/store-fixture.ts";

const SHA = "cd".repeat(32);

test("a chunk placed on an agent that lacks the job's store model sends one prefetch; a cached model or a models-folder model none", (t) => {
  const { store } = openTempStore(t);
  store.models.put({ name: "m", sha256: SHA, size: 1234, manifestJson: "{}", license: "", source: "", addedAt: 1 });
  const fromStore = insertJob(store, { modelSha256: SHA });
  const fromFolder = insertJob(store);
  const sent: Array<{ subject: string; data: Uint8Array }> = [];
  // Only publish is used: a recorder in its place.
  const nc = { publish: (subject: string, data: Uint8Array) => void sent.push({ subject, data }) } as unknown as NatsConnection;
  const live = new Map<string, Heartbeat>([["warm", { agentId: "warm", name: "warm", status: "idle", attemptId: null, sentAtMs: 0, seq: 1, cachedAssets: [SHA] }]]);
  let now = 0;
  const prefetch = assetPrefetcher({ store, nc, subjects: subjects("ns"), live: () => live, clock: () => now, log: silentLogger() });

  prefetch("cold", fromStore.id);
  prefetch("cold", fromStore.id);
  prefetch("warm", fromStore.id);
  prefetch("cold", fromFolder.id);
  assert.equal(sent.length, 1, "one message: not repeated at once, none to the agent that has it, none for a folder model");
  assert.equal(sent[0]?.subject, subjects("ns").control("cold"));
  assert.deepEqual(decodeJson(AgentControlSchema, sent[0]!.data), { type: "prefetch", assets: [{ sha256: SHA, size: 1234 }] });
  now += 61_000;
  prefetch("cold", fromStore.id);
  assert.equal(sent.length, 2, "repeated after a minute if the agent still does not advertise it");
});
