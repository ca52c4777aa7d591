/** One agent's part in a job, as `nightshift watch` shows it. */
export interface AgentProgress {
  agentId: string;
  name: string;
  /** Frames of the job this agent committed. */
  framesDone: number;
  /** Measured speed on the job's model; 0 when unknown. */
  framesPerSecond: number;
  /** The chunk of this job it runs now; "" when none. */
  chunkId: string;
  chunkFramesDone: number;
  chunkFramesTotal: number;
  /** Seconds until its current chunk is done; -1 when unknown or none. */
  etaSeconds: number;
  speculative: boolean;
  /** Progress inside the frame being made ("frame 12: Sample 32/64"); "" when not reported. */
  frameDetail: string;
}

export interface JobProgress {
  agents: AgentProgress[];
  /** Frames per second the job is rendered at now; 0 when unknown. */
  framesPerSecond: number;
  /** Seconds until the last frame; -1 when unknown, 0 when nothing is left. */
  etaSeconds: number;
}

export interface ProgressInput {
  nowMs: number;
  framesTotal: number;
  framesDone: number;
  startedAtMs: number | null;
  /** Committed chunks of the job. */
  ledger: ReadonlyArray<{ agentId: string; frames: number }>;
  /** The job's running attempts, with frames uploaded so far where the agent reported them. */
  running: ReadonlyArray<{ agentId: string; chunkId: string; frames: number; startedAtMs: number; framesDone: number | null; speculative: boolean; frameDetail?: string }>;
  nameOf: (agentId: string) => string;
  /** Measured speed of the agent on the job's model; null when unknown. */
  fpsOf: (agentId: string) => number | null;
}

/**
 * Per-agent progress, the job's speed and its ETA. The job's speed is the sum
 * of the measured speeds of the agents working on it now (each counted once);
 * before any is measured, the frames done so far over the time since start.
 */
export function jobProgress(p: ProgressInput): JobProgress {
  const rows = new Map<string, AgentProgress>();
  const row = (agentId: string): AgentProgress => {
    let r = rows.get(agentId);
    if (!r) {
      const fps = p.fpsOf(agentId) ?? 0;
      r = { agentId, name: p.nameOf(agentId), framesDone: 0, framesPerSecond: fps, chunkId: "", chunkFramesDone: 0, chunkFramesTotal: 0, etaSeconds: -1, speculative: false, frameDetail: "" };
      rows.set(agentId, r);
    }
    return r;
  };
  for (const l of p.ledger) row(l.agentId).framesDone += l.frames;
  for (const a of p.running) {
    const r = row(a.agentId);
    const done = a.framesDone ?? 0;
    const elapsed = Math.max(0, p.nowMs - a.startedAtMs) / 1000;
    const rate = done > 0 && elapsed > 0 ? done / elapsed : r.framesPerSecond;
    Object.assign(r, {
      chunkId: a.chunkId,
      chunkFramesDone: done,
      chunkFramesTotal: a.frames,
      etaSeconds: rate > 0 ? round1((a.frames - done) / rate) : -1,
      speculative: a.speculative,
      frameDetail: a.frameDetail ?? "",
    });
  }
  const working = [...rows.values()].filter((r) => r.chunkId !== "");
  let fps = working.reduce((n, r) => n + r.framesPerSecond, 0);
  if (fps <= 0 && p.startedAtMs !== null && p.framesDone > 0 && p.nowMs > p.startedAtMs) fps = p.framesDone / ((p.nowMs - p.startedAtMs) / 1000);
  const left = Math.max(0, p.framesTotal - p.framesDone);
  return {
    agents: [...rows.values()].sort((a, b) => a.name.localeCompare(b.name) || a.agentId.localeCompare(b.agentId)).map((r) => ({ ...r, framesPerSecond: round1(r.framesPerSecond) })),
    framesPerSecond: round1(fps),
    etaSeconds: left === 0 ? 0 : fps > 0 ? round1(left / fps) : -1,
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
