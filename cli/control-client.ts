import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, type ChannelCredentials, type ChannelOptions, type ClientWritableStream, type ServiceError } from "@grpc/grpc-js";
import { ControlClient, type AssetList, type CollectAssetsRequest, type CollectAssetsResponse, type ListAssetsResponse, type AssetRef, type SceneFile, type JobLogsRequest, type JobLogsResponse, type AddModelHeader, type ListModelsResponse, type ModelView, type JobView, type ListAgentsResponse, type ListJobsResponse, type ReportResponse, type RerenderRequest, type RerenderResponse, type SubmitRequest, type SubmitResponse } from "../proto/gen/nightshift/v1/control.ts";
import { GRPC_CHANNEL_OPTIONS } from "../shared/grpc-options.ts";
import { BadInputError } from "../shared/errors.ts";
import { defaultDataDir } from "./paths.ts";

export const ENDPOINT_FILE = "coordinator.json";

/** Where the CLI finds the coordinator: --coordinator, $NIGHTSHIFT_COORDINATOR, or the address file in its data dir. */
export function resolveCoordinatorAddress(opts: { coordinator?: string; dataDir?: string }): string {
  if (opts.coordinator) return opts.coordinator;
  if (process.env.NIGHTSHIFT_COORDINATOR) return process.env.NIGHTSHIFT_COORDINATOR;
  const file = join(opts.dataDir ?? defaultDataDir(), ENDPOINT_FILE);
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as { grpc?: string };
    if (parsed.grpc) return parsed.grpc;
  }
  throw new BadInputError(`no coordinator address: pass --coordinator HOST:PORT or --data-dir of a running coordinator (looked for ${file})`, {
    field: "coordinator",
  });
}

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res: Res) => void) => unknown;

function call<Req, Res>(fn: Unary<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, (err, res) => (err ? reject(err) : resolve(res))));
}

type UploadStream<H> = ClientWritableStream<{ body: { $case: "header"; value: H } | { $case: "data"; value: Buffer } }>;

/** A header, then the bytes message by message, waiting for the stream to drain (the server's disk sets the pace). */
function upload<H, Res>(open: (cb: (err: ServiceError | null, res: Res) => void) => UploadStream<H>, header: H, data: AsyncIterable<Buffer>): Promise<Res> {
  return new Promise((resolve, reject) => {
    const stream = open((err, res) => (err ? reject(err) : resolve(res)));
    const send = async (): Promise<void> => {
      stream.write({ body: { $case: "header", value: header } });
      for await (const chunk of data) {
        if (!stream.write({ body: { $case: "data", value: chunk } })) await new Promise((r) => stream.once("drain", r));
      }
      stream.end();
    };
    send().catch((err: unknown) => {
      stream.cancel();
      reject(err);
    });
  });
}

/** Promise-shaped Control client for the CLI. */
export class Control {
  readonly client: ControlClient;
  /** `channel`: the admin's mutual TLS (cli/admin-credentials.ts); the coordinator refuses anything else. */
  constructor(address: string, channel?: { credentials: ChannelCredentials; options: ChannelOptions }) {
    this.client = new ControlClient(address, channel?.credentials ?? credentials.createInsecure(), { ...GRPC_CHANNEL_OPTIONS, ...channel?.options });
  }
  submit = (specJson: string, baseDir: string, sceneTree: SceneFile[] = []) => call<SubmitRequest, SubmitResponse>(this.client.submit.bind(this.client), { specJson, baseDir, sceneTree });
  missingAssets = (assets: AssetRef[]) => call<AssetList, AssetList>(this.client.missingAssets.bind(this.client), { assets });
  getJob = (jobId: string) => call<{ jobId: string }, JobView>(this.client.getJob.bind(this.client), { jobId });
  listJobs = () => call<object, ListJobsResponse>(this.client.listJobs.bind(this.client), {});
  cancelJob = (jobId: string) => call<{ jobId: string }, JobView>(this.client.cancelJob.bind(this.client), { jobId });
  pauseJob = (jobId: string) => call<{ jobId: string }, JobView>(this.client.pauseJob.bind(this.client), { jobId });
  resumeJob = (jobId: string) => call<{ jobId: string }, JobView>(this.client.resumeJob.bind(this.client), { jobId });
  listAgents = () => call<object, ListAgentsResponse>(this.client.listAgents.bind(this.client), {});
  report = (jobId: string) => call<{ jobId: string }, ReportResponse>(this.client.report.bind(this.client), { jobId });
  jobLogs = (jobId: string, chunk: number | null) => call<JobLogsRequest, JobLogsResponse>(this.client.jobLogs.bind(this.client), { jobId, chunk: chunk ?? -1 });
  listModels = () => call<object, ListModelsResponse>(this.client.listModels.bind(this.client), {});
  rerender = (jobId: string, frames: number[]) => call<RerenderRequest, RerenderResponse>(this.client.rerender.bind(this.client), { jobId, frames });
  removeModel = (name: string) => call<{ name: string }, ModelView>(this.client.removeModel.bind(this.client), { name });
  collectAssets = (dryRun: boolean) => call<CollectAssetsRequest, CollectAssetsResponse>(this.client.collectAssets.bind(this.client), { dryRun });
  listAssets = () => call<object, ListAssetsResponse>(this.client.listAssets.bind(this.client), {});

  /** Streams a model file to the store after its header; resolves with the stored model. */
  addModel(header: AddModelHeader, data: AsyncIterable<Buffer>): Promise<ModelView> {
    return upload((cb) => this.client.addModel(cb), header, data);
  }

  /** Streams one file (a scene or a file it references) to the asset store; the store checks the bytes against the header. */
  putAsset(header: AssetRef, data: AsyncIterable<Buffer>): Promise<AssetRef> {
    return upload((cb) => this.client.putAsset(cb), header, data);
  }

  /** Streams job views until the job is terminal. */
  async *watch(jobId: string, signal?: AbortSignal): AsyncGenerator<JobView> {
    const stream = this.client.watchJob({ jobId });
    const onAbort = (): void => stream.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const v of stream as AsyncIterable<JobView>) yield v;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  close(): void {
    this.client.close();
  }
}
