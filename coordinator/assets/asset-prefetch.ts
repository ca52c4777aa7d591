import type { NatsConnection } from "@nats-io/nats-core";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { encodeJson, type AgentControl, type Heartbeat } from "../../shared/protocol/messages.ts";
import type { Subjects } from "../../shared/protocol/subjects.ts";
import type { Store } from "../store/store.ts";

/** Do not repeat a prefetch of one asset to one agent within this many ms (its heartbeat lags the transfer). */
const REPEAT_AFTER_MS = 60_000;

/**
 * When a chunk is placed on an agent's own subject, the agent is told (on
 * <p>.ctl.<agentId>) to fetch the store assets the chunk needs and its
 * heartbeat says it lacks, so the transfer overlaps the wait in the queue.
 * Fire and forget: a lost message only means the agent fetches at claim.
 */
export function assetPrefetcher(deps: {
  store: Store;
  nc: NatsConnection;
  subjects: Subjects;
  live: () => ReadonlyMap<string, Heartbeat>;
  clock: Clock;
  log: Logger;
}): (agentId: string, jobId: string) => void {
  const sent = new Map<string, number>();
  return (agentId, jobId) => {
    const job = deps.store.jobs.get(jobId);
    const model = job ? deps.store.models.bySha(job.modelSha256) : undefined;
    if (!model) return;
    const hb = deps.live().get(agentId);
    if (hb?.cachedAssets?.includes(model.sha256) || hb?.loadedModels?.includes(model.sha256)) return;
    const key = `${agentId}/${model.sha256}`;
    const now = deps.clock();
    if (now - (sent.get(key) ?? -Infinity) < REPEAT_AFTER_MS) return;
    if (sent.size > 10_000) sent.clear();
    sent.set(key, now);
    const msg: AgentControl = { type: "prefetch", assets: [{ sha256: model.sha256, size: model.size }] };
    try {
      deps.nc.publish(deps.subjects.control(agentId), encodeJson(msg));
      deps.log.info({ agentId, jobId, sha256: model.sha256, size: model.size }, "asset prefetch sent");
    } catch (err) {
      deps.log.warn({ agentId, err: (err as Error).message }, "asset prefetch not sent");
    }
  };
}
