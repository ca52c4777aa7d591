import os from "node:os";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { nkeyJwtAuthenticator } from "../shared/nats/nkey-ed25519.ts";
import type { Logger } from "../shared/log.ts";
import type { ChunkMeter } from "../shared/accounting/chunk-accounting.ts";
import { ChunkWorkSchema, type ChunkWork, type Heartbeat, type WorkMessage } from "../shared/protocol/messages.ts";
import { subjects } from "../shared/protocol/subjects.ts";
import { assertTransition, type Transitions } from "../shared/lifecycle/state-machine.ts";
import { NIGHTSHIFT_VERSION } from "../shared/version.ts";
import { CoordinatorClient } from "./grpc/gateway-client.ts";
import { uploadAttempt } from "./grpc/result-uploader.ts";
import { KEEP_BYTES } from "./grpc/kept-frames.ts";
import { HeartbeatPublisher } from "./nats/heartbeat-publisher.ts";
import { WorkLoop, type TakenNext } from "./nats/work-loop.ts";
import type { ClaimResponse } from "../proto/gen/nightshift/v1/agent_gateway.ts";
import { ExecutorCache } from "./work/executor-cache.ts";
import { folderModelHashes, modelFactory } from "./executors/model-factory.ts";
import type { AnyExecutorFactory } from "./executors/executor-registry.ts";
import type { ModelWorkStep } from "../shared/steps/work-step.ts";
import { stepContentAssets } from "../shared/steps/step-content-assets.ts";
import type { ExecutorProgress } from "./executors/executor.ts";
import { BoundedLog } from "./work/bounded-log.ts";
import { runChunk } from "./work/chunk-runner.ts";
import { failureKind, refusalReported } from "./work/failure-kind.ts";
import { FailureReportRetry } from "./work/failure-report-retry.ts";
import { ExecutorSlot } from "./work/executor-slot.ts";
import { ClaimAhead } from "./work/claim-ahead.ts";
import { loadAgentId, saveAgentId } from "./agent-identity.ts";
import type { AgentTelemetry } from "./telemetry/agent-telemetry.ts";
import type { AgentCredentials } from "./trust/agent-credentials.ts";
import { studioChannelCredentials } from "../shared/tls/grpc-credentials.ts";
import { agentInboxPrefix } from "../shared/protocol/subjects.ts";
import { reachableNatsServers } from "./connect/nats-address.ts";
import { natsClientTls } from "../shared/tls/nats-tls.ts";
import { telemetryPublisher } from "./telemetry/telemetry-publisher.ts";
import { agentConsumerName } from "../shared/protocol/subjects.ts";
import type { AgentControl } from "../shared/protocol/messages.ts";
import type { Executor, EncodedFrame } from "./executors/executor.ts";
import { listenForControl } from "./nats/control-listener.ts";
import { join } from "node:path";
import { AssetCache, type AssetSource } from "./assets/asset-cache.ts";
import { storeAssetSource } from "./grpc/store-asset-source.ts";
import { DEFAULT_CACHE_BYTES } from "./assets/cache-size.ts";
import { AGENT_NATS_LINK, natsConnectionName, watchStaleLinks } from "./nats/link-settings.ts";

/** Heartbeats name at most this many cached assets (the schema's bound). */
const MAX_ADVERTISED_ASSETS = 1024;

export type AgentState = "created" | "starting" | "running" | "draining" | "stopped";
const AGENT_LIFECYCLE: Transitions<AgentState> = {
  created: ["starting", "stopped"],
  starting: ["running", "stopped"],
  running: ["draining", "stopped"],
  draining: ["stopped"],
  stopped: [],
};

export interface AgentOptions {
  name: string;
  dataDir: string;
  modelsDir: string;
  coordinator: string;
  tags: string[];
  gpus: Array<{ name: string; vramBytes: number; uuid: string }>;
  executionProviders?: string[];
  intraOpThreads?: number;
  newMeter: () => ChunkMeter;
  /** How long SIGTERM waits for the current chunk before handing it back. */
  drainTimeoutMs: number;
  log: Logger;
  /** Runs last in stop() (closing the power source, for example). */
  onStopped?: () => Promise<void>;
  /** Power telemetry and the foreign-GPU-use pause (agent/telemetry/); none: no telemetry, never pauses. */
  telemetry?: AgentTelemetry;
  /** Enrolled credentials (agent/connect/): mutual TLS with the studio CA, the agent id from the certificate. */
  credentials?: AgentCredentials;
  /** The NATS connection closed for good while running (credentials revoked, for example). */
  onLost?: (reason: string) => void;
  /** The health endpoint's port (agent/discovery/health-endpoint.ts), sent in the join for the coordinator's liveness probe; 0 or none: no probe. */
  healthPort?: number;
  /** Size cap of the asset cache under <dataDir>/cache, bytes (`cacheSize`). Default DEFAULT_CACHE_BYTES. */
  cacheBytes?: number;
  /** Builds executors instead of the ONNX one (benchmarks, tests: agent/executors/sleep-executor.ts). */
  executorFactory?: (step: ModelWorkStep) => Promise<Executor>;
  /** Factories for the other step kinds this machine offers (blender, command, comfyui); `model` is always there. */
  factories?: AnyExecutorFactory[];
  /** Where chunk attempts get their work folders (default: the OS temp dir). */
  workRoot?: string;
  /**
   * Claim the next chunk while the current one makes its last frames, uploads and commits, so the
   * executor starts it at once (default true). At most one chunk waits claimed ahead, two while a claim
   * takes longer than a chunk runs (agent/work/claim-ahead.ts); drain hands them back.
   */
  claimAhead?: boolean;
  /**
   * Where a pull would go out after taking a chunk, first ask the coordinator for the next chunk (a claim
   * answered with its work: no work message published, pulled or acked); pull after it answers none
   * (default true).
   */
  claimNext?: boolean;
  /** The most bytes of frames one upload keeps to send again after the coordinator went away under it (agent/grpc/kept-frames.ts); 0: none. Default KEEP_BYTES. */
  keepUploadBytes?: number;
}

interface Current {
  work: ChunkWork;
  abort: AbortController;
  done: Promise<void>;
  /** Frames uploaded so far (heartbeat progress). */
  framesDone: number;
  /** performance.now() when the attempt was claimed, then when it got the executor. */
  startedMs: number;
  /** Set when the coordinator cancelled the attempt (job cancelled, or the other copy committed first). */
  cancelled: string | null;
  /** The latest progress inside a frame (Blender samples, ComfyUI steps). */
  inFrame: ExecutorProgress | null;
  /** The attempt's tool output. */
  toolLog: BoundedLog;
  /** claimed: waits for the executor slot; running: holds it; finishing: frames made, uploading and committing. */
  phase: "claimed" | "running" | "finishing";
  /** Claimed while the agent held another chunk (claimed ahead): drain hands it back if it has not started. */
  ahead: boolean;
}

/**
 * One render agent: joins the coordinator, sends heartbeats, pulls chunk
 * messages, claims them, runs them and streams the frames to the sink.
 * States: created -> starting -> running -> draining -> stopped.
 */
export class Agent {
  private state: AgentState = "created";
  private client: CoordinatorClient | undefined;
  /** Failure reports sent again once a coordinator that was down is back. */
  private reports: FailureReportRetry | undefined;
  private nc: NatsConnection | undefined;
  private heartbeat: HeartbeatPublisher | undefined;
  /** The coordinator's last heartbeat-now `ask`, echoed in every heartbeat since (its roll call: coordinator/dispatch/roll-call.ts). */
  private answers: number | undefined;
  private loop: WorkLoop | undefined;
  /** Every claimed attempt on this agent: at most one running, four finishing, two claimed ahead (agent/work/claim-ahead.ts). */
  private readonly live = new Set<Current>();
  /** Messages being claimed right now (the claim call has not answered). */
  private claiming = 0;
  /** The coordinator said it does not answer claims for the next chunk: only pull. */
  private nextOff = false;
  /** Chunks that reached this agent as the answer to a claim for its next chunk (no work message). */
  nextAnswered = 0;
  private readonly slot = new ExecutorSlot();
  private readonly ahead = new ClaimAhead();
  /** When claiming ahead last became allowed (the pull for it then went out); null while it is not. */
  private aheadAllowedAt: number | null = null;
  private readonly executors: ExecutorCache;
  /** Models and other assets fetched from the coordinator's store (agent/assets/). */
  readonly assets: AssetCache;
  agentId = "";
  chunksDone = 0;

  constructor(private readonly opts: AgentOptions) {
    const fromStore: AssetSource = {
      fetch: (ref, offset, signal) => {
        if (!this.client) throw new Error("the agent is not connected to a coordinator");
        return storeAssetSource(this.client).fetch(ref, offset, signal);
      },
    };
    this.assets = new AssetCache({ dir: join(opts.dataDir, "cache"), capBytes: opts.cacheBytes ?? DEFAULT_CACHE_BYTES, source: fromStore, log: opts.log.child({ part: "assets" }) });
    const model = modelFactory({
      modelsDir: opts.modelsDir,
      assets: this.assets,
      ...(opts.executionProviders ? { executionProviders: opts.executionProviders } : {}),
      ...(opts.intraOpThreads ? { intraOpThreads: opts.intraOpThreads } : {}),
      ...(opts.executorFactory ? { build: opts.executorFactory } : {}),
    });
    this.executors = new ExecutorCache([model, ...(opts.factories ?? [])], { log: opts.log, assets: this.assets });
  }

  get lifecycle(): AgentState {
    return this.state;
  }

  private to(next: AgentState): void {
    assertTransition("agent", AGENT_LIFECYCLE, this.state, next);
    this.state = next;
  }

  async start(): Promise<void> {
    this.to("starting");
    const log = this.opts.log;
    const creds = this.opts.credentials;
    const channel = creds ? studioChannelCredentials(creds) : undefined;
    const client = new CoordinatorClient(this.opts.coordinator, channel?.credentials, channel?.options);
    this.client = client;
    this.reports = new FailureReportRetry((r) => client.reportFailure(this.agentId, r.attemptId, r.error, r.handedBack), log.child({ part: "reports" }));
    const kinds = await this.executors.probe();
    log.info({ kinds: kinds.map((k) => `${k.kind} ${k.version}`) }, "step kinds on this agent");
    const joined = await this.client.join({
      agentId: creds?.agentId ?? loadAgentId(this.opts.dataDir),
      name: this.opts.name,
      version: NIGHTSHIFT_VERSION,
      gpus: this.opts.gpus,
      ramBytes: os.totalmem(),
      cpuCount: os.cpus().length,
      tags: this.opts.tags,
      executors: kinds.map((k) => k.kind),
      kinds: kinds.map((k) => ({ ...k, devices: k.devices ?? [] })),
      joinToken: "",
      healthPort: this.opts.healthPort ?? 0,
    });
    this.agentId = joined.agentId;
    saveAgentId(this.opts.dataDir, this.agentId);
    const natsOptions = {
      servers: reachableNatsServers(joined.natsServers, this.opts.coordinator),
      ...(joined.natsSeed ? { authenticator: nkeyJwtAuthenticator(joined.natsUserJwt, joined.natsSeed), inboxPrefix: agentInboxPrefix(joined.agentId) } : {}),
      // Servers that trust the studio's operator (embedded, or a cluster from `nats-cluster init`) listen with TLS from the studio CA.
      ...(creds && joined.natsSeed ? { tls: natsClientTls(creds.caPem) } : {}),
      name: `nightshift-agent-${this.opts.name}`,
      ...AGENT_NATS_LINK,
    };
    // A user JWT is valid on every server that trusts the studio's operator at once: nothing to wait for.
    const nc = await connect(natsOptions);
    this.nc = nc;
    // The gRPC connections went through the same cut: one whose far end was killed meanwhile, or waits out its
    // TCP retransmit backoff, would hold the uploads and claims on it until its keepalive gives up (6 s).
    watchStaleLinks(nc, log, () => {
      log.info({ dial: client.dials + 1 }, "dialling the coordinator again on new gRPC connections after a silent link");
      client.redial();
    });
    void this.nc.closed().then((err) => {
      if (this.state === "running" || this.state === "draining") this.opts.onLost?.(err?.message ?? "NATS connection closed");
    });
    const subj = subjects(joined.subjectPrefix);
    // Models in this agent's own folder count as cached: placement then adds no fetch for a store model with the same bytes.
    const inFolder = await folderModelHashes(this.opts.modelsDir).catch(() => [] as string[]);
    this.heartbeat = new HeartbeatPublisher(this.nc, subj.heartbeat(this.agentId), joined.heartbeatMs, () => ({
      agentId: this.agentId,
      name: this.opts.name,
      status: this.state === "draining" ? "draining" : this.live.size > 0 ? "busy" : this.mayTakeWork() ? "idle" : "paused-foreign-gpu-use",
      attemptId: this.current?.work.attemptId ?? null,
      otherAttemptIds: [...this.live].filter((c) => c !== this.current).map((c) => c.work.attemptId),
      note: this.opts.telemetry?.note() ?? "",
      loadedModels: this.executors.loaded(),
      downKinds: this.executors.downKinds(),
      cachedAssets: [...new Set([...inFolder, ...this.assets.hashes()])].slice(0, MAX_ADVERTISED_ASSETS),
      progress: this.current ? progressOf(this.current) : null,
      ...(this.answers !== undefined && { answers: this.answers }),
      natsConnection: natsConnectionName(nc),
    }));
    listenForControl(this.nc, subj.control(this.agentId), (m) => this.onControl(m), log);
    this.heartbeat.start();
    this.opts.telemetry?.start({ agentId: this.agentId, busy: () => this.live.size > 0, publish: telemetryPublisher(this.nc, subj.telemetry(this.agentId)) });
    this.loop = new WorkLoop(
      this.nc,
      (msg, delivery) => this.handle(msg, delivery),
      {
        ackWaitSeconds: 30,
        mayTake: () => this.mayTakeWork(),
        agentConsumer: agentConsumerName(this.agentId),
        mayTakeAnother: () => this.mayClaimAhead(),
        ...(this.opts.claimNext === false ? {} : { takeNext: () => this.takeNext() }),
      },
      log,
    );
    // Both streams stay open while the agent runs; opened now, the first chunk does not wait for them.
    client.claims.warm();
    client.uploads.warm();
    this.loop.start();
    this.to("running");
    log.info({ agentId: this.agentId, name: this.opts.name, coordinator: this.opts.coordinator }, "agent running");
  }

  /** The coordinator's instructions on <p>.ctl.<agentId>. */
  private onControl(m: AgentControl): void {
    if (m.type === "prefetch") return this.prefetch(m.assets);
    if (m.type === "heartbeat-now") {
      if (m.ask !== undefined) this.answers = m.ask;
      return this.heartbeat?.beat();
    }
    if (m.type !== "cancel-attempt") return;
    const cur = [...this.live].find((c) => c.work.attemptId === m.attemptId);
    if (!cur) return;
    cur.cancelled = m.reason;
    cur.abort.abort(new Error(`attempt cancelled by the coordinator: ${m.reason}`));
  }

  /** Fetches assets a chunk queued for this agent needs, while it waits; a failure is logged (the claim fetches again). */
  private prefetch(assets: ReadonlyArray<{ sha256: string; size: number }>): void {
    for (const ref of assets) {
      if (this.assets.has(ref)) continue;
      void this.assets.ensure(ref).then(
        () => this.heartbeat?.beat(),
        (err: unknown) => this.opts.log.warn({ sha256: ref.sha256, err: (err as Error).message }, "asset prefetch failed"),
      );
    }
  }

  /** The attempt the heartbeat reports progress for: the one holding the executor slot, else any live one. */
  private get current(): Current | undefined {
    let any: Current | undefined;
    for (const c of this.live) {
      if (c.phase === "running") return c;
      any ??= c;
    }
    return any;
  }

  /**
   * Whether the work loop may pull and claim one more chunk while this agent holds some: only while running,
   * and as agent/work/claim-ahead.ts rules (the chunk on the executor near its end, a bounded number
   * claimed ahead and uploading).
   */
  private mayClaimAhead(): boolean {
    if (this.opts.claimAhead === false || this.state !== "running") return false;
    const now = performance.now();
    const held = [...this.live].map((c) => ({ phase: c.phase, framesDone: c.framesDone, frames: c.work.frameEnd - c.work.frameStart + 1, elapsedMs: now - c.startedMs }));
    const may = this.ahead.mayClaim(held, this.claiming);
    this.aheadAllowedAt = may ? (this.aheadAllowedAt ?? now) : null;
    return may;
  }

  /** False while someone else uses the GPU (and until it has been free long enough). */
  mayTakeWork(): boolean {
    return this.opts.telemetry?.mayTakeWork() ?? true;
  }

  private async handle(msg: WorkMessage, delivery: number): Promise<void> {
    const claim = await this.timedClaim((client) => client.claim(this.agentId, msg.chunkId, msg.dispatchId, delivery));
    if (!claim.skip) await this.runClaimed(claim);
  }

  /**
   * The work loop's takeNext: a claim for the next chunk, with no message pulled. The chunk it is answered
   * with runs as a pulled one does, with nothing to keep alive or ack. A coordinator that does not answer
   * such claims (next_off) is not asked again.
   */
  private async takeNext(): Promise<TakenNext | null> {
    if (this.nextOff || this.state !== "running" || !this.mayTakeWork()) return null;
    const claim = await this.timedClaim((client) => client.claimNext(this.agentId));
    if (claim.nextOff) this.nextOff = true;
    if (claim.skip) return null;
    this.nextAnswered++;
    return { done: this.runClaimed(claim) };
  }

  /** A claim, counted in flight (claiming ahead) and timed. */
  private async timedClaim(ask: (client: CoordinatorClient) => Promise<ClaimResponse>): Promise<ClaimResponse> {
    // A claim ahead is timed from the moment it was allowed (the pull's round trip counts: it too must
    // hide behind the running chunk); an idle agent's claim from the claim call. Pulls that waited past
    // a second found the queue empty, which says nothing about the claim's speed.
    const since = this.live.size > 0 && this.aheadAllowedAt !== null ? this.aheadAllowedAt : performance.now();
    this.claiming++;
    try {
      const claim = await ask(this.client as CoordinatorClient);
      if (!claim.skip && performance.now() - since < 1000) this.ahead.observeClaim(performance.now() - since);
      return claim;
    } finally {
      this.claiming--;
    }
  }

  /** Runs a claimed chunk to its end: its frames made, uploaded and committed, or its failure settled. */
  private async runClaimed(claim: ClaimResponse): Promise<void> {
    const client = this.client as CoordinatorClient;
    const work = ChunkWorkSchema.parse(JSON.parse(claim.workJson));
    if (this.state === "stopped" || (this.state === "draining" && this.live.size > 0)) {
      // Claimed ahead (or after stop) while the agent began to drain or stop: handed back at once, never left
      // running here. The only chunk, whose claim was in flight when draining began, is finished as before.
      await this.settleFailure(work, new Error(`agent ${this.state}`), true);
      return;
    }
    const abort = new AbortController();
    let settle!: () => void;
    const current: Current = {
      work,
      abort,
      done: new Promise<void>((r) => (settle = r)),
      framesDone: 0,
      startedMs: performance.now(),
      cancelled: null,
      inFrame: null,
      toolLog: new BoundedLog(),
      phase: "claimed",
      ahead: this.live.size > 0,
    };
    const modelsBefore = this.executors.loaded().length;
    const cachedBefore = this.assets.hashes().length;
    // A claimed chunk's models, scene files and comfyui input images stay in the cache until the chunk is over.
    const unpins = work.steps.flatMap((s) => (s.kind === "model" ? [s.modelSha256] : stepContentAssets(s).map((a) => a.sha256))).map((h) => this.assets.pin(h));
    const unpin = (): void => unpins.forEach((u) => u());
    this.live.add(current);
    let logSent = false;
    const deliverLog = async (): Promise<void> => {
      if (logSent || current.toolLog.empty) return;
      logSent = true;
      await client.reportLog(this.agentId, work.attemptId, current.toolLog.text()).catch((err: unknown) => {
        this.opts.log.warn({ attemptId: work.attemptId, err: (err as Error).message }, "tool log not delivered");
      });
    };
    try {
      await runChunk(
        work,
        {
          executors: this.executors,
          newMeter: this.opts.newMeter,
          upload: (w, frames, finish, signal) =>
            uploadAttempt(client, { jobId: w.jobId, chunkId: w.chunkId, attemptId: w.attemptId, agentId: this.agentId, frameCount: w.frameEnd - w.frameStart + 1 }, counted(frames, current, () => this.loop?.wake()), finish, signal, "stream", {
              // Frames kept to send again if the coordinator goes away under the upload, for as long as the attempt's ack wait.
              bytes: this.opts.keepUploadBytes ?? KEEP_BYTES,
              withinMs: w.ackWaitSeconds * 1000,
            }),
          slot: async (signal) => {
            const release = await this.slot.acquire(signal);
            current.phase = "running";
            current.startedMs = performance.now();
            this.loop?.wake();
            return (allMade) => {
              release();
              if (current.phase !== "running") return;
              current.phase = "finishing";
              const frames = work.frameEnd - work.frameStart + 1;
              if (allMade) this.ahead.observeChunk(performance.now() - current.startedMs, frames);
              this.loop?.wake();
            };
          },
          log: this.opts.log,
          ...(this.opts.workRoot ? { workRoot: this.opts.workRoot } : {}),
          onProgress: (p) => (current.inFrame = p),
          toolLog: current.toolLog,
        },
        abort.signal,
      );
      this.chunksDone++;
    } catch (err) {
      // Over here: heartbeats stop naming it while its log and report wait for a coordinator that went away (a
      // restarted one holds fresh pool chunks back until such attempts end, lost-work-first.ts holdsPool).
      this.live.delete(current);
      // The output goes first, so that a chunk that fails for good has its log when the job shows failed.
      await deliverLog();
      if (current.cancelled !== null) this.opts.log.info({ attemptId: work.attemptId, reason: current.cancelled }, "attempt stopped: cancelled by the coordinator");
      else await this.settleFailure(work, err, abort.signal.aborted);
    } finally {
      await deliverLog();
      this.live.delete(current);
      unpin();
      settle();
      // A newly loaded or cached model is told at once: the scheduler prefers agents that hold a job's model.
      if (this.executors.loaded().length !== modelsBefore || this.assets.hashes().length !== cachedBefore) this.heartbeat?.beat();
    }
  }

  private async settleFailure(work: ChunkWork, err: unknown, aborted: boolean): Promise<void> {
    const kind = failureKind(err, aborted);
    const handedBack = kind === "handed-back";
    if (kind === "refused") {
      this.opts.log.warn({ attemptId: work.attemptId, err: (err as Error).message }, "sink refused the attempt");
      if (refusalReported(err)) await this.report(work.attemptId, (err as Error).message, false);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    if (handedBack) this.opts.log.warn({ attemptId: work.attemptId, err: message }, "chunk handed back: stopped here or the coordinator went away");
    else this.opts.log.error({ attemptId: work.attemptId, err: message }, "chunk failed on this agent");
    // Throws when the coordinator is unreachable: the work loop then naks for redelivery.
    await this.report(work.attemptId, message, handedBack);
  }

  /** Reports a failed or handed-back attempt; one the coordinator did not get (it was down) is sent again once it is back. */
  private async report(attemptId: string, error: string, handedBack: boolean): Promise<void> {
    try {
      await this.client?.reportFailure(this.agentId, attemptId, error, handedBack);
    } catch (err) {
      if (this.reports?.retry({ attemptId, error, handedBack }, err)) {
        this.opts.log.warn({ attemptId, err: (err as Error).message }, "failure report not delivered (coordinator unreachable); sent again once it is back");
      }
      throw err;
    }
  }

  /**
   * Stop taking work, hand back at once a chunk claimed ahead that has not started, let the others finish
   * (or hand them back after drainTimeoutMs), then stop.
   */
  async drain(): Promise<void> {
    if (this.state !== "running") return this.stop();
    this.to("draining");
    this.opts.log.info({ agentId: this.agentId }, "agent draining");
    const stopping = this.loop?.stop();
    const all = [...this.live];
    for (const c of all) if (c.phase === "claimed" && c.ahead) c.abort.abort(new Error("agent draining: handed back before it started"));
    if (all.length > 0) {
      const timer = setTimeout(() => all.forEach((c) => c.abort.abort(new Error("agent draining"))), this.opts.drainTimeoutMs);
      await Promise.all(all.map((c) => c.done));
      clearTimeout(timer);
    }
    await stopping;
    await this.stop();
  }

  /** Stops at once: aborts the current chunk. Safe to call twice; every step runs even if one fails. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    for (const c of this.live) c.abort.abort(new Error("agent stopping"));
    this.heartbeat?.stop();
    this.reports?.stop();
    await this.opts.telemetry?.stop().catch(() => undefined);
    await this.loop?.stop().catch(() => undefined);
    // drain() waits for the server; when the coordinator (and its NATS) is already gone it would wait forever.
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      await bounded(nc.drain(), 3000);
      // close() waits for the socket's last write; with the server gone mid-reconnect that may never come.
      if (!nc.isClosed()) await bounded(nc.close(), 2000);
    }
    this.client?.close();
    await this.executors.close().catch(() => undefined);
    await this.opts.onStopped?.().catch(() => undefined);
  }
}

/** Waits for `p` (its failure ignored), at most `ms`. */
async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([p.catch(() => undefined), bound]);
  clearTimeout(timer);
}

/** Passes frames through, counting them on the current attempt (heartbeat progress, claiming ahead). */
async function* counted(frames: AsyncIterable<EncodedFrame>, current: Current, onFrame: () => void): AsyncIterable<EncodedFrame> {
  for await (const f of frames) {
    current.framesDone++;
    onFrame();
    yield f;
  }
}

function progressOf(c: Current): NonNullable<Heartbeat["progress"]> {
  return {
    attemptId: c.work.attemptId,
    framesDone: c.framesDone,
    framesTotal: c.work.frameEnd - c.work.frameStart + 1,
    elapsedMs: Math.round(performance.now() - c.startedMs),
    ...(c.inFrame ? { inFrame: { frame: c.inFrame.frame, fraction: Math.min(1, Math.max(0, c.inFrame.fraction)), detail: (c.inFrame.detail ?? "").slice(0, 120) } } : {}),
  };
}

