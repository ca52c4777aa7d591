import type { Heartbeat } from "../../shared/protocol/messages.ts";
import { JobSpecs } from "../jobs/job-specs.ts";
import type { JobRow } from "../store/jobs-table.ts";
import type { JobNeeds } from "./scheduling-types.ts";
import type { OffsetAt } from "./job-window.ts";
import { LedgerSpeeds } from "./ledger-speeds.ts";
import type { KeptReads } from "./kept-reads.ts";
import { DEFAULT_SCHEDULING_POLICY, type SchedulingPolicy } from "./scheduling-policy.ts";

/** What the dispatcher's scheduler uses besides the store; the coordinator fills it in (Dispatcher.useScheduling). */
export interface SchedulingDeps {
  scheduling: SchedulingPolicy;
  specs: JobSpecs;
  /** Latest heartbeat per agent (status, loaded models, progress). */
  live: () => ReadonlyMap<string, Heartbeat>;
  /** A model's memory need from its manifest; null when unknown. */
  memoryOf: (modelName: string, sha256: string) => number | null;
  needOfSha: (sha256: string) => number | null;
  /** A job's placement needs, cached until what they are made of changes (job-needs-cache.ts); none: computed each time. */
  needsOf?: (job: JobRow) => JobNeeds;
  speeds: LedgerSpeeds;
  /** Online agents, queued chunks and running attempts kept between passes (kept-reads.ts); none: read on every pass. */
  kept?: KeptReads;
  /** The coordinator's local time zone, for job windows ("22:00"). */
  zone: OffsetAt;
  notes: Map<string, string>;
  /** Stream sequence of each queued chunk's message, so that a chunk taken back has its message removed. */
  published: Map<string, { dispatchId: string; seq: number }>;
  /** A chunk of `jobId` was published on `agentId`'s own subject (the asset prefetch); none: nothing. */
  onPlaced?: (agentId: string, jobId: string) => void;
  /** Runs before each pass (re-reading model manifests when a job names a new model). */
  prepare: () => Promise<void>;
  /** Told when a job becomes held because no agent may run it (the webhook "job.blocked"). */
  onJobHeld?: (jobId: string, reason: string) => void;
}

const NO_HEARTBEATS: ReadonlyMap<string, Heartbeat> = new Map();

/** The process's local time zone: local minus UTC at an instant. */
export const localZone: OffsetAt = (tMs) => -new Date(tMs).getTimezoneOffset() * 60_000;

export function defaultSchedulingDeps(): SchedulingDeps {
  return {
    scheduling: DEFAULT_SCHEDULING_POLICY,
    specs: new JobSpecs(),
    live: () => NO_HEARTBEATS,
    memoryOf: () => null,
    needOfSha: () => null,
    speeds: new LedgerSpeeds(DEFAULT_SCHEDULING_POLICY.speedAlpha),
    zone: localZone,
    notes: new Map(),
    published: new Map(),
    prepare: async () => undefined,
  };
}
