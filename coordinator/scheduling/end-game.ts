import type { AgentLoad } from "./agent-load.ts";
import { carve, snapToChunkEdges } from "./cut-chunk.ts";
import { placementPenaltySeconds } from "./eligibility.ts";
import type { SchedulingPolicy } from "./scheduling-policy.ts";
import type { AgentInfo, JobNeeds, Piece, UnstartedChunk } from "./scheduling-types.ts";
import { greedyFinish, waterFill, wholeShares, type Lane } from "./water-fill.ts";

export interface EndGameInput {
  job: JobNeeds;
  /** The job's chunks that have not started (pending, or queued in the pool or on an agent). */
  unstarted: readonly UnstartedChunk[];
  /** Agents that take work and may run the job. */
  eligible: readonly AgentInfo[];
  /** When the job's last running attempt is expected to end (now when none runs). */
  runningEndMs: number;
  load: AgentLoad;
  needOf: (sha256: string) => number | null;
  policy: SchedulingPolicy;
}

export interface EndGamePlan {
  jobId: string;
  /** Queued chunks to take back (their messages become stale). */
  revoke: string[];
  /** The unstarted frames, cut and assigned; together they cover exactly the unstarted chunks. */
  pieces: Piece[];
  /** Estimated end of the job with this plan, and with the work left as it is. */
  finishMs: number;
  currentFinishMs: number;
}

/**
 * The end of a job: when what has not started fits in the last round of the
 * eligible agents, cut it so that every agent finishes at the same moment
 * (water filling over each agent's free time and measured speed), and place
 * the pieces on their agents. Only when that brings the job's estimated end
 * forward by a real margin (policy.minGainSeconds, policy.minGainFraction of
 * the time left), and only where speeds were measured for the job's model:
 * not while an agent's only evidence is the progress of its first chunk (a
 * rate from two or three frames, the one in progress guessed half done, is
 * off by up to a fifth, and the cut would move a fifth of that agent's
 * share; its first commit comes within a chunk's time).
 * Work already placed by an earlier cut is re-cut only when an eligible agent
 * has fallen idle (nothing running, nothing waiting). Returns null when
 * nothing should change.
 */
export function planEndGame(input: EndGameInput): EndGamePlan | null {
  const { job, unstarted, load, policy } = input;
  if (!policy.splitting || unstarted.length === 0 || input.eligible.length === 0) return null;
  const frames = unstarted.reduce((n, c) => n + c.frameEnd - c.frameStart + 1, 0);
  const biggest = Math.max(...unstarted.map((c) => c.frameEnd - c.frameStart + 1));
  const fps = new Map<string, number>();
  for (const a of input.eligible) {
    const f = load.knownFps(a.id, job.jobId);
    if (f === null || load.speedFromProgressOnly(a.id, job.jobId)) return null;
    fps.set(a.id, f);
  }
  if (!inLastRounds(frames, biggest, [...fps.values()], policy.endGameRounds)) return null;
  // Once everything left is placed, it is only re-cut when an agent has really fallen idle: comparing
  // estimates alone would reshuffle on noise (the latest of many estimated finishes is biased late).
  const loosePending = unstarted.some((c) => c.placedAgentId === null);
  if (!loosePending && !input.eligible.some((a) => load.isIdle(a.id))) return null;
  const overheadMs = policy.chunkOverheadSeconds * 1000;
  const ids = new Set(unstarted.map((c) => c.id));

  // As things stand: placed chunks run where they are, the rest go to whoever is free first.
  const penaltyMs = (a: AgentInfo): number => placementPenaltySeconds(a, job, input.needOf, policy.modelLoadSeconds, policy.fetchBytesPerSecond) * 1000;
  const current: Lane[] = input.eligible.map((a) => ({ agentId: a.id, freeAtMs: load.freeAt(a.id) + penaltyMs(a), fps: fps.get(a.id) as number }));
  const loose = unstarted.filter((c) => c.placedAgentId === null).map((c) => c.frameEnd - c.frameStart + 1);
  let currentFinishMs = input.runningEndMs;
  if (loose.length > 0) currentFinishMs = Math.max(currentFinishMs, greedyFinish(current, loose, overheadMs));
  for (const c of unstarted) if (c.placedAgentId !== null) currentFinishMs = Math.max(currentFinishMs, load.freeAt(c.placedAgentId));

  // Re-cut: everyone free at its own time (without this job's waiting chunks), finishing together.
  let lanes: Lane[] = input.eligible.map((a) => ({
    agentId: a.id,
    freeAtMs: load.freeAtWithout(a.id, (id) => ids.has(id)) + overheadMs + penaltyMs(a),
    fps: fps.get(a.id) as number,
  }));
  let fill = waterFill(lanes, frames);
  for (;;) {
    const tooSmall = [...fill.shares].filter(([id, s]) => s > 0 && s < minPiece(fps.get(id) as number, policy));
    if (tooSmall.length === 0 || lanes.length <= 1) break;
    const drop = tooSmall.reduce((a, b) => (b[1] < a[1] ? b : a))[0];
    lanes = lanes.filter((l) => l.agentId !== drop);
    fill = waterFill(lanes, frames);
  }
  const finishMs = Math.max(input.runningEndMs, fill.finishMs);
  const gain = currentFinishMs - finishMs;
  if (!(gain >= Math.max(policy.minGainSeconds * 1000, policy.minGainFraction * (currentFinishMs - load.now)))) return null;

  const order = [...lanes].sort((a, b) => a.freeAtMs - b.freeAtMs || a.agentId.localeCompare(b.agentId)).map((l) => l.agentId);
  const whole = wholeShares(new Map(order.map((id) => [id, fill.shares.get(id) ?? 0])), frames);
  const counts = order.map((id) => [id, whole.get(id) ?? 0] as const).filter(([, n]) => n > 0);
  const pieces = carve(unstarted, snapToChunkEdges(unstarted, counts, (id) => fps.get(id) ?? 0, policy.minGainFraction), job.overlap).map(({ key, ...p }) => ({ ...p, agentId: key }));
  return {
    jobId: job.jobId,
    revoke: unstarted.filter((c) => c.state === "queued").map((c) => c.id),
    pieces,
    finishMs,
    currentFinishMs,
  };
}

/**
 * True when `frames` left would keep the agents (at speeds `fps`) busy for no
 * longer than `rounds` times the slowest agent's time for the biggest chunk:
 * from then on, a slow card that takes a whole chunk can end the job late.
 */
export function inLastRounds(frames: number, biggestChunk: number, fps: readonly number[], rounds: number): boolean {
  const valid = fps.filter((f) => f > 0 && Number.isFinite(f));
  if (valid.length === 0) return false;
  const total = valid.reduce((a, b) => a + b, 0);
  return frames / total <= (rounds * biggestChunk) / Math.min(...valid);
}

function minPiece(fps: number, policy: SchedulingPolicy): number {
  return Math.max(policy.minPieceFrames, policy.minPieceSeconds * fps);
}
