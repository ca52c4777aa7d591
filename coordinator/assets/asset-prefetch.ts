import type { NatsConnection } from "@nats-io/nats-core";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { encodeJson, type AgentControl, type Heartbeat } from "../../shared/protocol/messages.ts";
import type { Subjects } from "../../shared/protocol/subjects.ts";
import { z } from "zod";
import type { Store } from "../store/store.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { AssetRef } from "../../shared/assets/asset-ref.ts";
import { storeAssets } from "./store-assets.ts";
import { WorkStepSchema, type WorkStep } from "../../shared/steps/work-step.ts";

/** Do not repeat a prefetch of one asset to one agent within this many ms (its heartbeat lags the transfer). */
const REPEAT_AFTER_MS = 60_000;

/** Assets per control message (the message schema's bound). */
const PER_MESSAGE = 64;

/** Jobs whose asset lists are kept at once; past it the oldest half is dropped. */
const KEPT_JOBS = 256;

const StepsSchema = z.array(WorkStepSchema);

/**
 * When a chunk is placed on an agent's own subject, the agent is told (on
 * <p>.ctl.<agentId>) to fetch the store assets the chunk needs and its
 * heartbeat says it lacks: the store model of every model step of the chain
 * (not only the first) and every file of a Blender scene sent by content, so
 * the transfer overlaps the wait in the queue. Fire and forget: a lost
 * message only means the agent fetches at claim. A job's asset list is
 * computed once and kept for a minute (a job's steps never change; a model
 * stored later is seen within the minute).
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
  // A job's assets, read once a minute at most: a pass that places 128 chunks of one job read its row, parsed
  // its steps and looked up its models 128 times, on the event loop while the agents' claims came in.
  const kept = new Map<string, { assets: AssetRef[]; atMs: number }>();
  const assetsOf = (jobId: string, now: number): AssetRef[] | undefined => {
    const hit = kept.get(jobId);
    if (hit && now - hit.atMs < REPEAT_AFTER_MS) return hit.assets;
    const job = deps.store.jobs.get(jobId);
    if (!job) return undefined;
    if (kept.size >= KEPT_JOBS) for (const k of [...kept.keys()].slice(0, KEPT_JOBS / 2)) kept.delete(k);
    const assets = jobAssets(deps.store, job);
    kept.delete(jobId);
    kept.set(jobId, { assets, atMs: now });
    return assets;
  };
  return (agentId, jobId) => {
    const now = deps.clock();
    const assets = assetsOf(jobId, now);
    if (assets === undefined || assets.length === 0) return;
    const hb = deps.live().get(agentId);
    const held = new Set([...(hb?.cachedAssets ?? []), ...(hb?.loadedModels ?? [])]);
    if (sent.size > 10_000) sent.clear();
    const wanted = assets.filter((a) => {
      const key = `${agentId}/${a.sha256}`;
      if (held.has(a.sha256) || now - (sent.get(key) ?? -Infinity) < REPEAT_AFTER_MS) return false;
      sent.set(key, now);
      return true;
    });
    for (let i = 0; i < wanted.length; i += PER_MESSAGE) {
      const assets = wanted.slice(i, i + PER_MESSAGE);
      const msg: AgentControl = { type: "prefetch", assets };
      try {
        deps.nc.publish(deps.subjects.control(agentId), encodeJson(msg));
        deps.log.info({ agentId, jobId, assets: assets.length, bytes: assets.reduce((n, a) => n + a.size, 0) }, "asset prefetch sent");
      } catch (err) {
        deps.log.warn({ agentId, err: (err as Error).message }, "asset prefetch not sent");
      }
    }
  };
}

/** The job's store assets (storeAssets) from its recorded steps. */
function jobAssets(store: Pick<Store, "models">, job: Pick<JobRow, "modelSha256" | "stepsJson">): AssetRef[] {
  let steps: WorkStep[] = [];
  try {
    steps = StepsSchema.parse(JSON.parse(job.stepsJson));
  } catch {
    // A job recorded before steps were kept: its first step's model is all there is to fetch.
  }
  return storeAssets(store, job.modelSha256, steps);
}
