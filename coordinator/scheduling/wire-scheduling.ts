import type { NatsConnection } from "@nats-io/nats-core";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { Subjects } from "../../shared/protocol/subjects.ts";
import type { Store } from "../store/store.ts";
import type { Dispatcher } from "../dispatch/dispatcher.ts";
import type { ClaimService } from "../dispatch/claim-service.ts";
import type { ResultSink } from "../sink/result-sink.ts";
import type { ControlApi } from "../control/control-api.ts";
import type { AgentRegistry } from "../agents/agent-registry.ts";
import type { JobSpecs } from "../jobs/job-specs.ts";
import { agentControlPublisher } from "../nats/agent-control.ts";
import { assetPrefetcher } from "../assets/asset-prefetch.ts";
import { ineligibility } from "./eligibility.ts";
import { agentInfo, jobNeeds } from "./farm-snapshot.ts";
import { LedgerSpeeds } from "./ledger-speeds.ts";
import { ModelNeeds } from "./model-needs.ts";
import { JobNeedsCache } from "./job-needs-cache.ts";
import { KeptReads } from "./kept-reads.ts";
import type { JobRow } from "../store/jobs-table.ts";
import { progressSource } from "./progress-source.ts";
import { localZone } from "./scheduling-deps.ts";
import { DEFAULT_SCHEDULING_POLICY, type SchedulingPolicy } from "./scheduling-policy.ts";

export interface SchedulingParts {
  store: Store;
  modelsDir: string;
  specs: JobSpecs;
  nc: NatsConnection;
  subjects: Subjects;
  dispatcher: Dispatcher;
  claims: ClaimService;
  sink: ResultSink;
  api: ControlApi;
  registry: AgentRegistry;
  clock: Clock;
  log: Logger;
  policy?: SchedulingPolicy;
  /** A job nothing can run (coordinator/notify/farm-notifications.ts). */
  onJobHeld?: (jobId: string, reason: string) => void;
}

/**
 * Connects the scheduler to the coordinator's parts, in one place: the
 * dispatcher gets heartbeats, model needs, measured speeds and the local time
 * zone; claims check eligibility; the sink and the control API tell agents to
 * stop attempts that lost or were cancelled; job views get live progress.
 */
export function wireScheduling(p: SchedulingParts): void {
  const policy = p.policy ?? DEFAULT_SCHEDULING_POLICY;
  const speeds = new LedgerSpeeds(policy.speedAlpha);
  const models = new ModelNeeds(p.modelsDir);
  const live = () => p.registry.live;
  // Models folder first, then the model store's manifest.
  const memoryOf = (name: string, sha256: string): number | null => models.memoryOf(name, sha256) ?? storeMemoryOf(p.store, sha256);
  const needs = new JobNeedsCache(
    (job) => jobNeeds(job, p.specs, p.store, memoryOf),
    () => `${p.store.blocklist.revision}|${p.store.models.revision}|${models.revision}`,
  );
  const needsOf = (job: JobRow) => needs.of(job);
  const cancel = agentControlPublisher(p.nc, p.subjects, p.log.child({ part: "control" }));
  p.dispatcher.useScheduling({
    scheduling: policy,
    specs: p.specs,
    live,
    memoryOf,
    needOfSha: (sha256) => models.needOfSha(sha256) ?? storeMemoryOf(p.store, sha256),
    needsOf,
    kept: new KeptReads(p.store),
    onPlaced: assetPrefetcher({ store: p.store, nc: p.nc, subjects: p.subjects, live, clock: p.clock, log: p.log.child({ part: "assets" }) }),
    speeds,
    zone: localZone,
    ...(p.onJobHeld ? { onJobHeld: p.onJobHeld } : {}),
    prepare: () => models.refreshIfUnknown(p.store.jobs.modelsInStates(["queued", "running"]), p.clock()),
  });
  p.claims.ineligible = (agent, job) => ineligibility(agentInfo(agent, p.registry.live.get(agent.id)), needsOf(job));
  p.sink.onSuperseded = cancel;
  p.api.cancelAttempts = cancel;
  p.api.progressOf = progressSource(p.store, live, speeds, p.clock);
}

/** memoryBytes from the manifest of a model in the store; null when the store lacks it. */
function storeMemoryOf(store: Store, sha256: string): number | null {
  const row = store.models.bySha(sha256);
  if (!row) return null;
  const m = JSON.parse(row.manifestJson) as { memoryBytes?: unknown };
  return typeof m.memoryBytes === "number" ? m.memoryBytes : null;
}
