import type { SchedulingPolicy } from "./scheduling-policy.ts";
import type { SpeedBook } from "./speed-book.ts";
import type { AgentInfo, RunningWork, WaitingWork } from "./scheduling-types.ts";

/** Frames per second assumed where nothing was measured; only compares agents with each other. */
export const NOMINAL_FPS = 1;

interface Queued {
  chunkId: string;
  jobId: string;
  ms: number;
}

/**
 * Each agent's timeline as the scheduler estimates it: when its running chunk
 * ends, then the chunks waiting on its subject one after the other. `add`
 * appends a placement so that later decisions in the same pass see it.
 */
export class AgentLoad {
  private readonly runEnd = new Map<string, number>();
  private readonly queue = new Map<string, Queued[]>();
  /** Speeds seen in progress reports of running attempts, by agent and model: the first evidence about a new agent. */
  private readonly progressFps = new Map<string, number>();
  private readonly runningOn = new Set<string>();
  /** runningEnd of each running attempt the pass was given (estimateRunning), by attempt id. */
  private readonly ends = new Map<string, number>();
  /**
   * freeAt() of each agent with waiting chunks, kept as they are added (the same sums in the same order as
   * freeAtWithout, so the same figure to the last bit): it is asked once per eligible agent and chunk placed.
   */
  private readonly freeAtMs = new Map<string, number>();
  /** fps() by job, then agent: fixed for the pass (speeds and progress are read once), asked once per agent and chunk placed. */
  private readonly fpsOf = new Map<string, Map<string, number>>();

  constructor(
    readonly now: number,
    private readonly speeds: SpeedBook,
    private readonly modelOf: (jobId: string) => string | undefined,
    private readonly policy: Pick<SchedulingPolicy, "chunkOverheadSeconds">,
    agents: readonly AgentInfo[],
    running: readonly RunningWork[],
    waiting: readonly WaitingWork[],
  ) {
    for (const a of agents) {
      this.runEnd.set(a.id, now);
      this.queue.set(a.id, []);
    }
    for (const r of running) {
      const model = modelOf(r.jobId);
      if (model !== undefined && r.framesDone !== null && r.framesDone >= 2 && r.elapsedMs !== null && r.elapsedMs > 0) {
        this.progressFps.set(`${r.agentId}\u0000${model}`, ((r.framesDone + 0.5) / r.elapsedMs) * 1000);
      }
    }
    for (const r of running) this.runningOn.add(r.agentId);
    this.estimateRunning(running);
    for (const w of waiting) this.add(w.agentId, w.jobId, w.frames, w.chunkId);
  }

  /** The agent's frames per second on the job's model: measured, else a guess, else NOMINAL_FPS. */
  fps(agentId: string, jobId: string): number {
    let byAgent = this.fpsOf.get(jobId);
    if (!byAgent) this.fpsOf.set(jobId, (byAgent = new Map()));
    let fps = byAgent.get(agentId);
    if (fps === undefined) byAgent.set(agentId, (fps = this.knownFps(agentId, jobId) ?? NOMINAL_FPS));
    return fps;
  }

  /**
   * The agent's speed on the job's model: measured from its committed chunks,
   * else seen in the progress of the chunk it runs now, else the slowest
   * measured on the model (a cautious guess); null when nobody ran the model.
   */
  knownFps(agentId: string, jobId: string): number | null {
    const model = this.modelOf(jobId);
    if (model === undefined) return null;
    return this.speeds.measured(agentId, model) ?? this.progressFps.get(`${agentId}\u0000${model}`) ?? this.speeds.estimate(agentId, model);
  }

  /**
   * Each running attempt's end (runningEnd), and each agent's end of its
   * running work. An agent runs one chunk at a time
   * (agent/work/executor-slot.ts), in claim order, and claims its next one
   * before the one on its executor ends (claim-ahead.ts): an attempt that
   * shows no frame made yet starts where the one claimed before it on the
   * same agent ends. An attempt with a frame made is on the executor (or done
   * with it) and keeps its own estimate.
   */
  private estimateRunning(running: readonly RunningWork[]): void {
    // The store lists running attempts in claim order (insertion order); sorted only where they come otherwise.
    const inOrder = running.every((r, i) => i === 0 || (running[i - 1] as RunningWork).startedAtMs <= r.startedAtMs);
    const byClaim = inOrder ? running : [...running].sort((a, b) => a.startedAtMs - b.startedAtMs);
    const slotFree = new Map<string, number>();
    for (const r of byClaim) {
      const own = this.ownEnd(r);
      const before = slotFree.get(r.agentId);
      const end = before === undefined || (r.framesDone !== null && r.framesDone > 0) ? own : Math.max(own, before + this.ms(r.agentId, r.jobId, r.frames));
      this.ends.set(r.attemptId, end);
      slotFree.set(r.agentId, Math.max(before ?? -Infinity, end));
      this.runEnd.set(r.agentId, Math.max(this.runEnd.get(r.agentId) ?? this.now, end));
    }
  }

  /** Whether the agent's speed on the job's model is only what the progress of its running chunk suggests (nothing committed yet). */
  speedFromProgressOnly(agentId: string, jobId: string): boolean {
    const model = this.modelOf(jobId);
    return model !== undefined && this.speeds.measured(agentId, model) === null && this.progressFps.has(`${agentId}\u0000${model}`);
  }

  /** Estimated ms the agent needs for `frames` frames of the job, overhead included. */
  ms(agentId: string, jobId: string, frames: number): number {
    return (frames / this.fps(agentId, jobId) + this.policy.chunkOverheadSeconds) * 1000;
  }

  /**
   * When a running attempt will end. Where the agent's speed on the model was
   * measured from committed chunks: from the attempt's start on the agent's
   * executor, at that speed. The start is taken from the agent's progress
   * report (its time on the executor when sent), else from the end of the
   * attempt claimed before it on the same agent (estimateRunning), else from its
   * claim. Taken from the claim alone, estimates came out 100-250 ms early on
   * 1 s chunks at 64 agents (the claim is made about a frame ahead), and the
   * end-of-job cut gave those agents the extra frames. (The agent's last
   * commit is no bound: on a starved farm it comes 0.4-0.9 s after the last
   * frame, and estimates from it were as late.) A report more than a frame
   * behind the measured pace shows a card that slowed down (thermal limits,
   * another user): from three frames done, its own rate then says more;
   * where no speed was measured, the report's rate from one frame. A rate
   * counts the frame in progress as half done (off by up to half a frame,
   * which is why a measured pace comes first), and the frames done since the
   * report was sent are subtracted. Never before now.
   */
  runningEnd(r: RunningWork): number {
    return this.ends.get(r.attemptId) ?? this.ownEnd(r);
  }

  /** runningEnd of the attempt as if it were the agent's only one. */
  private ownEnd(r: RunningWork): number {
    const model = this.modelOf(r.jobId);
    const paced = model === undefined ? null : this.speeds.measured(r.agentId, model);
    const since = r.reportedAtMs === null ? 0 : Math.min(2000, Math.max(0, this.now - r.reportedAtMs));
    const reported = r.framesDone !== null && r.elapsedMs !== null && r.elapsedMs > 0;
    if (reported) {
      const done = r.framesDone as number;
      const elapsed = r.elapsedMs as number;
      const behind = paced !== null && done >= 3 && done < (elapsed / 1000) * paced - 1;
      if (behind || (paced === null && done >= 1)) {
        const perMs = (done + 0.5) / elapsed;
        const left = Math.max(0, r.frames - done - since * perMs);
        return this.now + left / perMs + this.policy.chunkOverheadSeconds * 1000;
      }
    }
    const started = reported ? this.now - since - (r.elapsedMs as number) : r.startedAtMs;
    return Math.max(this.now, started + this.ms(r.agentId, r.jobId, r.frames));
  }

  /** Whether the end estimate of a running attempt rests on evidence (progress or a measured speed). */
  hasEvidence(r: RunningWork): boolean {
    if (r.framesDone !== null && r.framesDone > 0) return true;
    const model = this.modelOf(r.jobId);
    return model !== undefined && this.speeds.measured(r.agentId, model) !== null;
  }

  /** When the agent is free: its running chunk and everything waiting for it done. */
  freeAt(agentId: string): number {
    return this.freeAtMs.get(agentId) ?? this.runEnd.get(agentId) ?? this.now;
  }

  /** As freeAt, leaving out waiting chunks that `skip` names (work about to be re-planned). */
  freeAtWithout(agentId: string, skip: (chunkId: string) => boolean): number {
    let t = this.runEnd.get(agentId) ?? this.now;
    for (const q of this.queue.get(agentId) ?? []) if (!skip(q.chunkId)) t += q.ms;
    return t;
  }

  /** Nothing running and nothing waiting on its subject. */
  isIdle(agentId: string): boolean {
    return !this.runningOn.has(agentId) && this.waitingCount(agentId) === 0;
  }

  waitingCount(agentId: string): number {
    return this.queue.get(agentId)?.length ?? 0;
  }

  /** Waiting chunks of one job on the agent. */
  waitingOf(agentId: string, jobId: string): string[] {
    return (this.queue.get(agentId) ?? []).filter((q) => q.jobId === jobId).map((q) => q.chunkId);
  }

  add(agentId: string, jobId: string, frames: number, chunkId = ""): void {
    let q = this.queue.get(agentId);
    if (!q) this.queue.set(agentId, (q = []));
    if (!this.runEnd.has(agentId)) this.runEnd.set(agentId, this.now);
    const ms = this.ms(agentId, jobId, frames);
    q.push({ chunkId, jobId, ms });
    this.freeAtMs.set(agentId, this.freeAt(agentId) + ms);
  }

  /** Drops waiting chunks (they are being re-planned). */
  remove(chunkIds: ReadonlySet<string>): void {
    for (const [id, q] of this.queue) {
      const kept = q.filter((x) => !chunkIds.has(x.chunkId));
      this.queue.set(id, kept);
      this.freeAtMs.set(id, this.freeAtWithout(id, () => false));
    }
  }
}
