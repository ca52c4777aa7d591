import os from "node:os";
import { status as grpcStatus } from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../shared/log.ts";
import type { ChunkMeter } from "../shared/accounting/chunk-accounting.ts";
import { ChunkWorkSchema, type ChunkWork, type WorkMessage } from "../shared/protocol/messages.ts";
import { subjects } from "../shared/protocol/subjects.ts";
import { assertTransition, type Transitions } from "../shared/lifecycle/state-machine.ts";
import { NIGHTSHIFT_VERSION } from "../shared/version.ts";
import { CoordinatorClient } from "./grpc/gateway-client.ts";
import { uploadAttempt } from "./grpc/result-uploader.ts";
import { HeartbeatPublisher } from "./nats/heartbeat-publisher.ts";
import { WorkLoop } from "./nats/work-loop.ts";
import { ExecutorCache } from "./work/executor-cache.ts";
import { runChunk } from "./work/chunk-runner.ts";
import { loadAgentId, saveAgentId } from "./agent-identity.ts";

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
}

interface Current {
  work: ChunkWork;
  abort: AbortController;
  done: Promise<void>;
}

/**
 * One render agent: joins the coordinator, sends heartbeats, pulls chunk
 * messages, claims them, runs them and streams the frames to the sink.
 * States: created -> starting -> running -> draining -> stopped.
 */
export class Agent {
  private state: AgentState = "created";
  private client: CoordinatorClient | undefined;
  private nc: NatsConnection | undefined;
  private heartbeat: HeartbeatPublisher | undefined;
  private loop: WorkLoop | undefined;
  private current: Current | undefined;
  private readonly executors: ExecutorCache;
  agentId = "";
  chunksDone = 0;

  constructor(private readonly opts: AgentOptions) {
    this.executors = new ExecutorCache({
      modelsDir: opts.modelsDir,
      ...(opts.executionProviders ? { executionProviders: opts.executionProviders } : {}),
      ...(opts.intraOpThreads ? { intraOpThreads: opts.intraOpThreads } : {}),
    });
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
    this.client = new CoordinatorClient(this.opts.coordinator);
    const joined = await this.client.join({
      agentId: loadAgentId(this.opts.dataDir),
      name: this.opts.name,
      version: NIGHTSHIFT_VERSION,
      gpus: this.opts.gpus,
      ramBytes: os.totalmem(),
      cpuCount: os.cpus().length,
      tags: this.opts.tags,
      executors: ["onnx"],
      joinToken: "",
    });
    this.agentId = joined.agentId;
    saveAgentId(this.opts.dataDir, this.agentId);
    this.nc = await connect({
      servers: joined.natsServers,
      ...(joined.natsUser ? { user: joined.natsUser, pass: joined.natsPassword } : {}),
      name: `nightshift-agent-${this.opts.name}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    const subj = subjects(joined.subjectPrefix);
    this.heartbeat = new HeartbeatPublisher(this.nc, subj.heartbeat(this.agentId), joined.heartbeatMs, () => ({
      agentId: this.agentId,
      name: this.opts.name,
      status: this.state === "draining" ? "draining" : this.current ? "busy" : "idle",
      attemptId: this.current?.work.attemptId ?? null,
    }));
    this.heartbeat.start();
    this.loop = new WorkLoop(this.nc, (msg, delivery) => this.handle(msg, delivery), { ackWaitSeconds: 30 }, log);
    this.loop.start();
    this.to("running");
    log.info({ agentId: this.agentId, name: this.opts.name, coordinator: this.opts.coordinator }, "agent running");
  }

  private async handle(msg: WorkMessage, delivery: number): Promise<void> {
    const client = this.client as CoordinatorClient;
    const claim = await client.claim(this.agentId, msg.chunkId, msg.dispatchId, delivery);
    if (claim.skip) return;
    const work = ChunkWorkSchema.parse(JSON.parse(claim.workJson));
    const abort = new AbortController();
    let settle!: () => void;
    this.current = { work, abort, done: new Promise<void>((r) => (settle = r)) };
    try {
      await runChunk(
        work,
        {
          executors: this.executors,
          newMeter: this.opts.newMeter,
          upload: (w, frames, finish, signal) =>
            uploadAttempt(client, { jobId: w.jobId, chunkId: w.chunkId, attemptId: w.attemptId, agentId: this.agentId, frameCount: w.frameEnd - w.frameStart + 1 }, frames, finish, signal),
          log: this.opts.log,
        },
        abort.signal,
      );
      this.chunksDone++;
    } catch (err) {
      await this.settleFailure(work, err, abort.signal.aborted);
    } finally {
      this.current = undefined;
      settle();
    }
  }

  private async settleFailure(work: ChunkWork, err: unknown, handedBack: boolean): Promise<void> {
    const code = (err as { code?: number }).code;
    if (code === grpcStatus.FAILED_PRECONDITION) {
      this.opts.log.warn({ attemptId: work.attemptId, err: (err as Error).message }, "sink refused the attempt");
      if (!/stale|unknown-attempt/.test((err as Error).message)) await this.client?.reportFailure(this.agentId, work.attemptId, (err as Error).message, false);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    this.opts.log.error({ attemptId: work.attemptId, err: message, handedBack }, "chunk failed on this agent");
    // Throws when the coordinator is unreachable: the work loop then naks for redelivery.
    await this.client?.reportFailure(this.agentId, work.attemptId, message, handedBack);
  }

  /** Stop taking work, let the current chunk finish (or hand it back after drainTimeoutMs), then stop. */
  async drain(): Promise<void> {
    if (this.state !== "running") return this.stop();
    this.to("draining");
    this.opts.log.info({ agentId: this.agentId }, "agent draining");
    const stopping = this.loop?.stop();
    const cur = this.current;
    if (cur) {
      const timer = setTimeout(() => cur.abort.abort(new Error("agent draining")), this.opts.drainTimeoutMs);
      await cur.done;
      clearTimeout(timer);
    }
    await stopping;
    await this.stop();
  }

  /** Stops at once: aborts the current chunk. Safe to call twice; every step runs even if one fails. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.current?.abort.abort(new Error("agent stopping"));
    this.heartbeat?.stop();
    await this.loop?.stop().catch(() => undefined);
    await this.nc?.drain().catch(() => undefined);
    this.client?.close();
    await this.executors.close().catch(() => undefined);
    await this.opts.onStopped?.().catch(() => undefined);
  }
}
