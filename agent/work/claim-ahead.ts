/**
 * When an agent claims its next chunk while it still holds others, so that
 * the executor never waits for a claim round trip between two chunks.
 *
 * Pure: the agent tells it what it holds and what it measured (claim round
 * trips, executor time per chunk); it answers whether to pull one more.
 * The rules, and the bound each keeps:
 *
 * - Chunks claimed but not started (waiting for the executor slot, or whose
 *   claim is in flight): at most one, or `maxAhead` (2) when a claim round
 *   trip takes longer than the executor spends on a chunk, since then one
 *   chunk ahead cannot hide the next claim. A claim's time is taken as its
 *   moving average plus twice its moving mean deviation (as TCP estimates a
 *   retransmit timeout), since a claim that comes late half the time leaves
 *   the executor idle half the time. What an agent holds unstarted is
 *   thus at most about two claim round trips of work, which is what keeps it
 *   fair to idle agents; a draining agent hands all of it back unstarted.
 * - The chunk on the executor must be near its end: on its last frame, or
 *   with no more than two claims' time (as above) left, by its frames left or
 *   by its time so far against the measured time per frame, whichever says
 *   less (a pipelined executor hands its last frames over in a burst at the
 *   end, so counting frames alone starts the claim too late). Before a chunk
 *   is measured (an agent's first chunk), its own frames so far give the time
 *   per frame once a claim is measured (a fresh farm's agents under load: the
 *   last-frame rule left 250 ms for claims that took 300-500 ms); before any
 *   of that, the last frame.
 * - Chunks whose frames are made but whose upload and commit are still in
 *   flight never hold the executor, and at most `maxFinishing` of them may be
 *   in flight: a slow sink stops the agent claiming instead of piling up
 *   uploads.
 */

export interface HeldChunk {
  /** claimed: waits for the executor slot; running: holds it; finishing: frames made, uploading and committing. */
  phase: "claimed" | "running" | "finishing";
  framesDone: number;
  frames: number;
  /** Time on the executor so far (running), ms. */
  elapsedMs?: number;
}

export interface ClaimAheadLimits {
  /** Most chunks held claimed but not started when chunks are shorter than a claim (default 2). */
  maxAhead: number;
  /** Most chunks uploading and committing at once (default 4). */
  maxFinishing: number;
}

const DEFAULT_LIMITS: ClaimAheadLimits = { maxAhead: 2, maxFinishing: 4 };
/** Weight of the newest sample in the moving averages. */
const ALPHA = 0.3;

const ewma = (prev: number | null, sample: number): number => (prev === null ? sample : prev + ALPHA * (sample - prev));

export class ClaimAhead {
  private readonly limits: ClaimAheadLimits;
  /** Moving average of the claim round trip and of its deviation from that average, ms. */
  private claimMs: number | null = null;
  private claimDevMs = 0;
  /** Moving averages of the executor's time per chunk and per frame (slot held), ms. */
  private chunkMs: number | null = null;
  private frameMs: number | null = null;

  constructor(limits: Partial<ClaimAheadLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    if (!(this.limits.maxAhead >= 1 && this.limits.maxFinishing >= 1)) throw new RangeError("claim ahead: maxAhead and maxFinishing must be at least 1");
  }

  /** How long one claim ahead took to arrive: from the moment it was allowed to the claim's answer, ms. */
  observeClaim(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) return;
    if (this.claimMs !== null) this.claimDevMs = ewma(this.claimDevMs, Math.abs(ms - this.claimMs));
    this.claimMs = ewma(this.claimMs, ms);
  }

  /** What a claim takes, with a margin for its spread; null before one is measured. */
  private claimBoundMs(): number | null {
    return this.claimMs === null ? null : this.claimMs + 2 * this.claimDevMs;
  }

  /** One chunk's time on the executor (slot acquired to released) and its frame count. */
  observeChunk(ms: number, frames: number): void {
    if (!(Number.isFinite(ms) && ms >= 0 && frames >= 1)) return;
    this.chunkMs = ewma(this.chunkMs, ms);
    this.frameMs = ewma(this.frameMs, ms / frames);
  }

  /** How many chunks to hold claimed but not started: one, or more while a claim outlasts a chunk. */
  target(): number {
    const claimMs = this.claimBoundMs();
    if (claimMs === null || this.chunkMs === null) return 1;
    return Math.min(this.limits.maxAhead, Math.max(1, Math.ceil(claimMs / Math.max(this.chunkMs, 0.001))));
  }

  /** Whether to pull and claim one more chunk now, given what the agent holds and how many claims are in flight. */
  mayClaim(held: readonly HeldChunk[], claiming: number): boolean {
    let unstarted = claiming;
    let finishing = 0;
    let running: HeldChunk | undefined;
    for (const c of held) {
      if (c.phase === "claimed") unstarted++;
      else if (c.phase === "finishing") finishing++;
      else running = c;
    }
    if (finishing >= this.limits.maxFinishing || unstarted >= this.target()) return false;
    return running === undefined || this.nearEnd(running);
  }

  private nearEnd(c: HeldChunk): boolean {
    const left = c.frames - c.framesDone;
    if (left <= 1) return true;
    const claimMs = this.claimBoundMs();
    // Before a chunk is measured (an agent's first), the running chunk's own frames so far give its pace.
    const frameMs = this.frameMs ?? (c.framesDone > 0 && c.elapsedMs !== undefined ? c.elapsedMs / c.framesDone : null);
    if (claimMs === null || frameMs === null) return false;
    const byFrames = left * frameMs;
    const byTime = c.elapsedMs === undefined ? byFrames : c.frames * frameMs - c.elapsedMs;
    return Math.min(byFrames, byTime) <= 2 * claimMs;
  }
}
