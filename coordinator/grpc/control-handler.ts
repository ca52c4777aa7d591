import type { ServerWritableStream } from "@grpc/grpc-js";
import type {
  AgentView as WireAgentView, ControlServer, JobLogsRequest, JobLogsResponse, JobRef, JobView as WireJobView, ListAgentsRequest, ListAgentsResponse,
  ListJobsRequest, ListJobsResponse, ReportRequest, ReportResponse, RerenderRequest, RerenderResponse, SubmitRequest, SubmitResponse,
} from "../../proto/gen/nightshift/v1/control.ts";
import type { ControlApi, JobView } from "../control/control-api.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { JobFinisher } from "../jobs/job-finisher.ts";
import { watchJob } from "../control/job-watch.ts";
import { toServiceError, unary } from "./grpc-errors.ts";
import type { ModelCatalog } from "../assets/model-catalog.ts";
import { modelAdminHandler } from "../assets/model-admin-handler.ts";
import { assetUploadHandler } from "../assets/asset-upload-handler.ts";
import type { AssetStore } from "../assets/asset-store.ts";
import type { AssetCollector } from "../assets/asset-collector.ts";
import { assetGcHandler } from "../assets/asset-gc-handler.ts";
import { NO_AGENT_LIVE, type AgentLive } from "../telemetry/agent-live-view.ts";
import { NO_AGENT_KEY, type AgentKeyView } from "../control/control-api.ts";

const wireJob = (v: JobView): WireJobView => v;

export function wireAgent(a: AgentRow, blocklistedJobs: string[] = [], live: AgentLive = NO_AGENT_LIVE, key: AgentKeyView = NO_AGENT_KEY): WireAgentView {
  return {
    id: a.id,
    name: a.name,
    state: a.state,
    gpus: a.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes })),
    lastSeenMs: a.lastSeen,
    version: a.version,
    address: a.address,
    blocklistedJobs,
    status: a.state === "online" ? live.status : "",
    note: a.state === "online" ? live.note : "",
    powerWatts: live.powerWatts ?? undefined,
    energySource: live.energySource,
    keyFingerprint: key.keyFingerprint,
    nameVerified: key.nameVerified,
    kinds: a.kinds.map((k) => ({
      kind: k.kind,
      version: k.version,
      featureCount: k.features.length,
      devices: (k.devices ?? []).map((d) => ({ name: d.name, type: d.type, vramTotal: d.vramTotal, vramFree: d.vramFree })),
      down: a.state === "online" && live.downKinds.includes(k.kind),
    })),
  };
}

export function controlHandler(api: ControlApi, finisher: JobFinisher, models: ModelCatalog, assets: AssetStore, collector: AssetCollector): ControlServer {
  return {
    ...modelAdminHandler(models),
    ...assetUploadHandler(assets),
    ...assetGcHandler(collector),
    submit: unary<SubmitRequest, SubmitResponse>(async (req) => {
      const s = await api.submit(req.specJson, req.baseDir || process.cwd(), req.sceneTree);
      return { jobId: s.jobId, chunks: s.chunks, frames: s.frames };
    }),
    getJob: unary<JobRef, WireJobView>((req) => wireJob(api.job(req.jobId))),
    listJobs: unary<ListJobsRequest, ListJobsResponse>(() => ({ jobs: api.jobs().map(wireJob) })),
    cancelJob: unary<JobRef, WireJobView>((req) => wireJob(api.cancel(req.jobId))),
    pauseJob: unary<JobRef, WireJobView>((req) => wireJob(api.pause(req.jobId))),
    resumeJob: unary<JobRef, WireJobView>((req) => wireJob(api.resume(req.jobId))),
    listAgents: unary<ListAgentsRequest, ListAgentsResponse>(() => ({ agents: api.agents().map((a) => wireAgent(a, api.blocklistedJobs(a.id), api.agentLive(a.id), api.agentKey(a.id))) })),
    jobLogs: unary<JobLogsRequest, JobLogsResponse>((req) => ({ attempts: api.logs(req.jobId, req.chunk < 0 ? null : req.chunk) })),
    rerender: unary<RerenderRequest, RerenderResponse>((req) => api.rerender(req.jobId, req.frames)),
    report: unary<ReportRequest, ReportResponse>((req) => ({ reportJson: JSON.stringify(api.report(req.jobId || undefined)) })),
    watchJob(call: ServerWritableStream<JobRef, WireJobView>): void {
      const stop = watchJob({ view: (id) => api.job(id), changes: finisher }, call.request.jobId, {
        onView: (v) => call.write(wireJob(v)),
        // An "error" event is how grpc-js sends a status on a server stream (destroy() would end it without one).
        onEnd: (err) => (err ? call.emit("error", Object.assign(new Error(err.message), toServiceError(err))) : call.end()),
      });
      call.on("cancelled", stop);
    },
  };
}
