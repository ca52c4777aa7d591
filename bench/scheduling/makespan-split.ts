/**
 * Where a scaling run's makespan goes: the agent-seconds of a run (agents x
 * makespan) split into the executors' work, the ramp-up (release to each
 * agent's first chunk), the gaps between one chunk's last frame and the next
 * chunk's start on the same agent, and the tail (an agent's last frame to the
 * job's end), from the executors' start and end times (agent-host.ts) and the
 * store's attempt rows (claim and commit times). Pure: times in, figures out,
 * so the split is tested with fixed fixtures (test/unit/bench-makespan-split.test.ts).
 */

/** One attempt as its executor saw it, on the host clock (ms). endMs: its last frame made; absent when it never got there. */
export interface ExecutorSpan {
  agent: string;
  attemptId: string;
  startMs: number;
  endMs?: number;
  /** Frames of the attempt (a cut piece has fewer than the job's chunk size). */
  frames: number;
}

/** One attempt row of the store, its times moved to the host clock (ms). */
export interface AttemptTimes {
  id: string;
  state: string;
  claimedMs: number;
  finishedMs: number | null;
}

export interface SplitInput {
  releaseMs: number;
  doneMs: number;
  /** Every agent online for the run, by name (one that never started a chunk counts as idle for the whole run). */
  agents: readonly string[];
  spans: readonly ExecutorSpan[];
  attempts: readonly AttemptTimes[];
  /** What one frame takes at speed 1 with no orchestration at all, ms. */
  msPerFrame: number;
}

interface Stats {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
}

export interface MakespanSplit {
  makespanSeconds: number;
  /** Shares of agents x makespan; they add up to 1. */
  agentSecondsShare: { work: number; rampUp: number; gaps: number; tail: number; neverStarted: number };
  /**
   * Release to each agent's first executor start; of it, release to that attempt's claim committed
   * (`firstClaim`) and the claim's commit to the executor's start (`claimToStart`: the answer's way back,
   * the agent's own preparation). `firstStart`: the per-agent distribution of release to first start.
   */
  rampUp: { firstStartMs: number; allStartedMs: number; meanMs: number; agentsNeverStarted: number; firstStart: Stats; firstClaim: Stats; claimToStart: Stats };
  /** Executor time per attempt against frames x msPerFrame (a starved machine wakes its timers late). */
  work: { attempts: number; meanOverrunMs: number; overrunShareOfWork: number };
  /**
   * Last frame of one chunk to the start of the next on the same agent. `claimedAhead`: the next attempt's
   * claim was committed before that last frame; `claimedLate`: after it, so the executor waited for a claim
   * (`lateClaimMs`: from the last frame to the claim's commit).
   */
  gaps: Stats & { claimedAhead: Stats; claimedLate: Stats & { lateClaimMeanMs: number } };
  /**
   * firstIdleToDoneMs: from the first agent's last frame (the first agent left with no work) to the job's end;
   * lastFrameToDoneMs: from the very last frame to the job's end (the last upload, commit and finish).
   */
  tail: { firstIdleToDoneMs: number; lastFrameToDoneMs: number; meanMs: number; lastCommitToDoneMs: number };
  /** Each attempt's last frame to its commit in the store (upload, sink, commit transaction): a burst of ends queues here. */
  lastFrameToCommit: Stats;
  /** The agent whose last frame came last: its own ramp-up, work, gaps and tail add up to the makespan. */
  criticalAgent: { agent: string; rampUpMs: number; workMs: number; gapsMs: number; chunks: number; tailMs: number };
  attempts: { started: number; unfinished: number; byState: Record<string, number> };
}

function stats(xs: readonly number[]): Stats {
  if (xs.length === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, maxMs: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { count: s.length, meanMs: r(s.reduce((a, b) => a + b, 0) / s.length), p50Ms: r(at(50)), p90Ms: r(at(90)), maxMs: r(s[s.length - 1] as number) };
}

const share = (x: number, total: number): number => (total > 0 ? Math.round((x / total) * 1000) / 1000 : 0);

export function splitMakespan(i: SplitInput): MakespanSplit {
  const makespanMs = i.doneMs - i.releaseMs;
  const claimed = new Map(i.attempts.map((a) => [a.id, a.claimedMs]));
  const committed = new Map(i.attempts.map((a) => [a.id, a.finishedMs]));
  const toCommit: number[] = [];
  const byAgent = new Map<string, ExecutorSpan[]>();
  for (const s of i.spans) byAgent.set(s.agent, [...(byAgent.get(s.agent) ?? []), s]);
  let work = 0;
  let nominal = 0;
  let ramp = 0;
  let gapSum = 0;
  let tail = 0;
  const ramps: number[] = [];
  const firstClaims: number[] = [];
  const claimToStart: number[] = [];
  const gaps: number[] = [];
  const ahead: number[] = [];
  const late: number[] = [];
  const lateClaim: number[] = [];
  const lastEnds: number[] = [];
  let critical = { agent: "", rampUpMs: 0, workMs: 0, gapsMs: 0, chunks: 0, tailMs: 0 };
  let criticalEnd = -Infinity;
  for (const [agent, spans] of byAgent) {
    spans.sort((a, b) => a.startMs - b.startMs);
    const first = spans[0] as ExecutorSpan;
    const rampMs = first.startMs - i.releaseMs;
    ramps.push(rampMs);
    const firstClaimed = claimed.get(first.attemptId);
    if (firstClaimed !== undefined) {
      firstClaims.push(firstClaimed - i.releaseMs);
      claimToStart.push(first.startMs - firstClaimed);
    }
    let agentWork = 0;
    let agentGaps = 0;
    let lastEnd = first.startMs;
    spans.forEach((s, k) => {
      const end = s.endMs ?? s.startMs;
      agentWork += end - s.startMs;
      if (s.endMs !== undefined) {
        nominal += s.frames * i.msPerFrame;
        const c = committed.get(s.attemptId);
        if (c !== undefined && c !== null) toCommit.push(c - s.endMs);
      }
      if (k > 0) {
        const gap = s.startMs - lastEnd;
        agentGaps += gap;
        gaps.push(gap);
        const c = claimed.get(s.attemptId);
        if (c !== undefined && c > lastEnd) {
          late.push(gap);
          lateClaim.push(c - lastEnd);
        } else ahead.push(gap);
      }
      lastEnd = Math.max(lastEnd, end);
    });
    const agentTail = i.doneMs - lastEnd;
    lastEnds.push(lastEnd);
    work += agentWork;
    ramp += rampMs;
    gapSum += agentGaps;
    tail += agentTail;
    if (lastEnd > criticalEnd) {
      criticalEnd = lastEnd;
      critical = { agent, rampUpMs: rampMs, workMs: agentWork, gapsMs: agentGaps, chunks: spans.length, tailMs: agentTail };
    }
  }
  const never = i.agents.filter((a) => !byAgent.has(a)).length;
  const total = makespanMs * (byAgent.size + never);
  const byState: Record<string, number> = {};
  for (const a of i.attempts) byState[a.state] = (byState[a.state] ?? 0) + 1;
  const ended = i.spans.filter((s) => s.endMs !== undefined).length;
  const r = (x: number): number => Math.round(x * 10) / 10;
  return {
    makespanSeconds: Math.round(makespanMs) / 1000,
    agentSecondsShare: { work: share(work, total), rampUp: share(ramp, total), gaps: share(gapSum, total), tail: share(tail, total), neverStarted: share(never * makespanMs, total) },
    rampUp: { firstStartMs: r(Math.min(...ramps)), allStartedMs: r(Math.max(...ramps)), meanMs: r(ramps.reduce((a, b) => a + b, 0) / Math.max(1, ramps.length)), agentsNeverStarted: never, firstStart: stats(ramps), firstClaim: stats(firstClaims), claimToStart: stats(claimToStart) },
    work: { attempts: ended, meanOverrunMs: r((work - nominal) / Math.max(1, ended)), overrunShareOfWork: share(work - nominal, work) },
    gaps: { ...stats(gaps), claimedAhead: stats(ahead), claimedLate: { ...stats(late), lateClaimMeanMs: r(lateClaim.reduce((a, b) => a + b, 0) / Math.max(1, lateClaim.length)) } },
    tail: { firstIdleToDoneMs: r(i.doneMs - Math.min(...lastEnds)), lastFrameToDoneMs: r(i.doneMs - Math.max(...lastEnds)), meanMs: r(tail / Math.max(1, byAgent.size)), lastCommitToDoneMs: r(i.doneMs - Math.max(...i.attempts.map((a) => a.finishedMs ?? -Infinity))) },
    lastFrameToCommit: stats(toCommit),
    criticalAgent: { ...critical, rampUpMs: r(critical.rampUpMs), workMs: r(critical.workMs), gapsMs: r(critical.gapsMs), tailMs: r(critical.tailMs) },
    attempts: { started: i.spans.length, unfinished: i.spans.length - ended, byState },
  };
}
