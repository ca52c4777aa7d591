import type { SleepAgentSpec } from "./sleep-farm.ts";
import type { FramePace } from "./bench-farm.ts";

/**
 * Milliseconds on the host's monotonic clock (CLOCK_MONOTONIC, the same in
 * every process of this machine), sub-ms: times taken in the bench and in
 * the agent host are compared with each other. performance.timeOrigin is
 * taken separately by each process and can be off by tens of ms under load
 * (negative dispatch latencies were seen).
 */
export const hostMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Parent -> agent host (bench/scheduling/agent-host.ts), over the child process IPC channel. */
export type HostCommand =
  | {
      type: "start-agents";
      coordinator: { address: string; enrollAddress: string; caFingerprint: string };
      joinToken: string;
      dir: string;
      pace: FramePace;
      agents: SleepAgentSpec[];
    }
  | { type: "events" }
  | { type: "raw-consume"; natsUrl: string; jwt: string; seed: string; caPem: string; stream: string; consumer: string; consumers: number; count: number }
  | { type: "stop" };

/** When an agent's executor started a chunk, on the host's monotonic clock (hostMs), and when it made the chunk's last frame (endMs; absent if it never did). */
export interface StartEvent {
  agent: string;
  jobId: string;
  chunkId: string;
  attemptId: string;
  atMs: number;
  endMs?: number;
  frames: number;
}

/** How late the agent host's event loop ran since the last "events" request (perf_hooks.monitorEventLoopDelay), ms. */
export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Agent host -> parent. */
export type HostReply =
  | { type: "agents-started"; count: number }
  | { type: "events"; events: StartEvent[]; loopDelay: LoopDelay }
  | { type: "raw-consumed"; count: number; firstMs: number; lastMs: number }
  | { type: "stopped" }
  | { type: "error"; message: string };
