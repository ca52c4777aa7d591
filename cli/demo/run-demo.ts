import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "../../shared/log.ts";
import { BadInputError } from "../../shared/errors.ts";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { startEnrolledAgent } from "../../agent/connect/enroll-local-agent.ts";
import type { Agent } from "../../agent/agent.ts";
import type { JobView } from "../../proto/gen/nightshift/v1/control.ts";
import type { EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import { findFfmpeg } from "../../shared/media/assemble-video.ts";
import { BUNDLED_MODELS_DIR } from "../paths.ts";
import { demoJobSpec } from "./demo-job.ts";
import { FETCH_COMMAND, FETCHED_MODELS_DIR } from "../../models/fetched-models-dir.ts";
import { UPSCALE_MODEL_NAME } from "../../models/fetchable-models.ts";

/** The folder that holds the fetched upscaler, or a BadInputError naming the command that fetches it. */
function upscaleModelsDir(): string {
  if (!existsSync(join(FETCHED_MODELS_DIR, `${UPSCALE_MODEL_NAME}.manifest.json`))) {
    throw new BadInputError(`--upscale: the learned upscaler is not in ${FETCHED_MODELS_DIR}; fetch it first with \`${FETCH_COMMAND}\``, { field: "upscale" });
  }
  return FETCHED_MODELS_DIR;
}

export interface DemoOptions {
  frames: number;
  agents: number;
  /** Root for this run; default ./nightshift-demo/<timestamp>. */
  dir?: string;
  width?: number;
  height?: number;
  /** Run the fetched learned upscaler (models:fetch) instead of the built-in colour grade. */
  upscale?: boolean;
  /** Force an energy source on the agents (tests). */
  energySource?: EnergySource;
  log: Logger;
  signal?: AbortSignal;
  /** Called with the job's view about four times a second while it runs (the CLI draws its progress bar). */
  onProgress?: (view: JobView) => void;
}

const PROGRESS_INTERVAL_MS = 250;

/**
 * Where a demo run keeps everything: `dir`, or ./nightshift-demo/<time> under the current folder (the
 * checkout for `npm run demo`; never the install folder of a packed release, which may not be writable).
 */
export function demoRunDir(dir?: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return resolve(dir ?? join(process.cwd(), "nightshift-demo", stamp));
}

export interface DemoAgentResult {
  name: string;
  id: string;
  frames: number;
  chunks: number;
  seconds: number;
  framesPerSecond: number;
  energyWh: number;
  energySource: EnergySource;
  idleEnergyWh: number;
  peakMemoryBytes: number;
  memoryKind: string;
}

export interface DemoResult {
  jobId: string;
  state: string;
  frames: number;
  chunks: number;
  wallSeconds: number;
  framesPerSecond: number;
  outputDir: string;
  dataDir: string;
  video: string | null;
  message: string;
  energyWh: number;
  cost: number;
  currency: string;
  agents: DemoAgentResult[];
}

/**
 * A whole render on this one machine: an embedded coordinator (its own
 * nats-server, SQLite store, gRPC), K local agents that join it over gRPC and
 * NATS like remote ones would, one job, the MP4, and the per-node report.
 * The data dir stays behind so `nightshift report --data-dir` can read it.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  if (!Number.isInteger(o.frames) || o.frames < 1 || o.frames > 100_000) throw new BadInputError(`--frames: expected 1..100000, got ${o.frames}`, { field: "frames" });
  if (!Number.isInteger(o.agents) || o.agents < 1 || o.agents > 16) throw new BadInputError(`--agents: expected 1..16, got ${o.agents}`, { field: "agents" });
  const modelsDir = o.upscale ? upscaleModelsDir() : BUNDLED_MODELS_DIR;
  const root = demoRunDir(o.dir);
  const dataDir = join(root, "coordinator");
  mkdirSync(root, { recursive: true });
  // No longer a longer agent timeout for the upscaler: its tiles run in a worker thread, heartbeats keep flowing.
  const config = compileCoordinatorConfig({ dataDir, outputRoot: join(root, "output"), modelsDir, listen: "127.0.0.1:0" }, BUNDLED_MODELS_DIR);
  const coordinator = await Coordinator.start(config, o.log.child({ role: "coordinator" }));
  const agents: Agent[] = [];
  try {
    // The local agents enroll like remote ones, with a join token, on loopback, without mDNS.
    const { token } = coordinator.trust.tokens.create({ ttlMs: 60 * 60_000, multiUse: true, label: "demo" });
    for (let i = 0; i < o.agents; i++) {
      const name = o.agents === 1 ? "local-agent" : `local-agent-${i + 1}`;
      const dataDir = join(root, `agent-${i + 1}`);
      const log = o.log.child({ role: "agent", agent: i + 1 });
      const agent = await startEnrolledAgent(coordinator.joinPoint, token, {
        name,
        dataDir,
        modelsDir,
        intraOpThreads: 1,
        ...(o.energySource ? { energySource: o.energySource } : {}),
        log,
      });
      agents.push(agent);
    }
    if (!findFfmpeg()) o.log.warn({}, "ffmpeg not found: frames will be rendered, no MP4 assembled");
    const submitted = await coordinator.api.submit(JSON.stringify(demoJobSpec(o.frames, o.width, o.height, o.upscale ? { id: "upscale", name: UPSCALE_MODEL_NAME } : undefined)), root);
    const progress = o.onProgress ? setInterval(() => o.onProgress?.(coordinator.api.job(submitted.jobId)), PROGRESS_INTERVAL_MS) : undefined;
    const job = await coordinator.finisher.waitFor(submitted.jobId, o.signal).finally(() => clearInterval(progress));
    o.onProgress?.(coordinator.api.job(submitted.jobId));
    const report = coordinator.api.report(job.id);
    // The store commits before the agent reads the sink's answer: let the agents see their last answers before stopping them.
    const committed = report.jobs[0]?.chunks ?? 0;
    for (let i = 0; i < 100 && agents.reduce((n, a) => n + a.chunksDone, 0) < committed; i++) await new Promise((r) => setTimeout(r, 20));
    const jr = report.jobs[0];
    const names = new Map(agents.map((a) => [a.agentId, a]));
    const wallSeconds = jr?.wallSeconds ?? 0;
    return {
      jobId: job.id,
      state: job.state,
      frames: jr?.frames ?? 0,
      chunks: jr?.chunks ?? 0,
      wallSeconds,
      framesPerSecond: wallSeconds > 0 ? (jr?.frames ?? 0) / wallSeconds : 0,
      outputDir: job.outputDir,
      dataDir,
      video: job.videoPath,
      message: job.message ?? "",
      energyWh: jr?.energyWh ?? 0,
      cost: jr?.cost ?? 0,
      currency: report.currency,
      agents: report.agents
        .filter((a) => names.has(a.id))
        .map((a) => ({
          name: a.name,
          id: a.id,
          frames: a.frames,
          chunks: a.chunks,
          seconds: a.seconds,
          framesPerSecond: a.framesPerSecond,
          energyWh: a.energyWh,
          energySource: a.energySource,
          idleEnergyWh: a.idleEnergyWh,
          peakMemoryBytes: a.peakMemoryBytes,
          memoryKind: a.memoryKind,
        })),
    };
  } finally {
    for (const a of agents) await a.stop();
    await coordinator.stop();
  }
}
