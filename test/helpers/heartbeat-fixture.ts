/**
 * Why this file exists: the scheduler places work only on agents heard since
 * the coordinator started (a heartbeat in the registry's live map,
 * farm-snapshot.ts agentInfo), as a running farm's agents are. Scheduling and
 * dispatch tests give their agents heartbeats through these builders instead
 * of a heartbeat literal in each test.
 */
import type { Store } from "../../coordinator/store/store.ts";
import type { Heartbeat } from "../../shared/protocol/messages.ts";

/** An idle agent's heartbeat; `o` overrides any field (status, loadedModels, cachedAssets, ...). */
export function heartbeat(agentId: string, o: Partial<Heartbeat> = {}): Heartbeat {
  return { agentId, name: agentId, status: "idle", attemptId: null, sentAtMs: 0, seq: 1, ...o };
}

/** The latest heartbeat of each agent named: all heard since the coordinator started. */
export function heard(ids: Iterable<string>, o: Partial<Heartbeat> = {}): Map<string, Heartbeat> {
  return new Map([...ids].map((id) => [id, heartbeat(id, o)]));
}

/** A `live` source (SchedulingDeps.live) that hears every agent online in the store when it is read, as a running farm does. */
export function hearOnline(store: Store): () => ReadonlyMap<string, Heartbeat> {
  return () => heard(store.agents.listLiveness("online").map((a) => a.id));
}
