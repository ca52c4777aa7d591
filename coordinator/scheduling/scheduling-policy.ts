/**
 * Knobs of the scheduler (coordinator/scheduling/). Defaults are chosen so that
 * a chunk is never split or copied for a gain smaller than the cost of doing
 * it (one more claim, one more commit, maybe a model load).
 */
export interface SchedulingPolicy {
  /** Seconds an agent needs to load a model it does not hold; placement adds it to that agent's finish time. */
  modelLoadSeconds: number;
  /** Bytes per second an agent fetches from the model store (a gigabit LAN); a model to fetch costs size / this. */
  fetchBytesPerSecond: number;
  /** Fixed seconds per chunk attempt (claim, meter, commit), added to every estimate. */
  chunkOverheadSeconds: number;
  /**
   * End of job: remaining work is re-cut once it would keep the eligible agents busy for no longer than this
   * many times the slowest agent's time for the biggest chunk. Two rounds leave a margin: a slow card that
   * takes a whole chunk from the pool just before the cut still finishes before the others.
   */
  endGameRounds: number;
  /** Smallest piece the end of a job is cut into, in frames ... */
  minPieceFrames: number;
  /** ... and in seconds of work on the agent that gets it. */
  minPieceSeconds: number;
  /** A split or a speculative copy must bring the finish forward by at least this many seconds ... */
  minGainSeconds: number;
  /** ... and by at least this fraction of the time that is left. */
  minGainFraction: number;
  /** Split what remains at the end of a job. */
  splitting: boolean;
  /** Run speculative copies of chunks that a slow agent would finish last. */
  speculation: boolean;
  /** Weight of the newest chunk in each agent's moving-average speed. */
  speedAlpha: number;
  /** How often a job's `window.doneBy` ETA is re-checked, ms. */
  etaCheckMs: number;
}

export const DEFAULT_SCHEDULING_POLICY: SchedulingPolicy = {
  modelLoadSeconds: 5,
  fetchBytesPerSecond: 100e6,
  chunkOverheadSeconds: 0.02,
  endGameRounds: 2,
  minPieceFrames: 1,
  minPieceSeconds: 0.5,
  minGainSeconds: 0.25,
  minGainFraction: 0.05,
  splitting: true,
  speculation: true,
  speedAlpha: 0.3,
  etaCheckMs: 10_000,
};
