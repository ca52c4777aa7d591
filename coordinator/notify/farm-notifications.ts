/**
 * What the farm tells its webhooks, and when: a job done or failed (seen on
 * the finisher's "changed" event), a job nothing can run (the dispatch pass's
 * hold), an agent whose heartbeats stopped (the registry's sweep). Each is
 * queued once per occurrence in the outbox (webhook-outbox.ts).
 */
import type { EventEmitter } from "node:events";
import type { Store } from "../store/store.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { JobState } from "../../shared/lifecycle/states.ts";
import type { WebhookOutbox } from "./webhook-outbox.ts";

export interface FarmNotifications {
  /** For the scheduler: a job is held because no agent may run it. */
  jobHeld(jobId: string, reason: string): void;
  /** For the agent registry: an agent went silent. */
  agentOffline(agent: Pick<AgentRow, "id" | "name" | "lastSeen">, silentMs: number): void;
  stop(): void;
}

export function farmNotifications(store: Store, outbox: WebhookOutbox, jobChanges: EventEmitter): FarmNotifications {
  const jobData = (jobId: string): Record<string, unknown> | undefined => {
    const j = store.jobs.get(jobId);
    if (!j) return undefined;
    const c = store.chunks.counts(jobId);
    return { jobId, name: j.name, state: j.state, message: j.message ?? "", framesDone: c.framesDone, framesTotal: c.framesTotal, outputDir: j.outputDir };
  };
  // The finisher's check passes the state it read (one statement per chunk change, not two).
  const onChanged = (jobId: string, known?: JobState): void => {
    const state = known ?? store.jobs.stateOf(jobId);
    if (state !== "done" && state !== "failed") return;
    const data = jobData(jobId);
    if (data) outbox.notify(state === "done" ? "job.done" : "job.failed", jobId, data);
  };
  jobChanges.on("changed", onChanged);
  return {
    jobHeld(jobId, reason) {
      const data = jobData(jobId);
      if (data) outbox.notify("job.blocked", `${jobId}:${reason}`, { ...data, reason });
    },
    agentOffline(agent, silentMs) {
      outbox.notify("agent.offline", `${agent.id}:${agent.lastSeen}`, { agentId: agent.id, name: agent.name, lastSeenMs: agent.lastSeen, silentMs });
    },
    stop() {
      jobChanges.off("changed", onChanged);
    },
  };
}
