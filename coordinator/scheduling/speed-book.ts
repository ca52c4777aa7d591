/** One committed chunk, as the ledger records it. */
export interface SpeedSample {
  agentId: string;
  modelSha256: string;
  frames: number;
  busySeconds: number;
  wallSeconds: number;
}

/**
 * Measured speed per agent and model, in frames per second: frames divided by
 * busy seconds (the executor's compute time; wall seconds when an executor
 * reports no busy time), as a moving average over committed chunks so that a
 * card that slows down (thermal limits, another user) is noticed. Pure: fed by
 * ledger-speeds.ts from the ledger, or by tests.
 */
export class SpeedBook {
  /** Speed by model, then by agent (no key string built per look-up: the pass asks for every agent and running chunk). */
  private readonly byModel = new Map<string, Map<string, number>>();

  constructor(private readonly alpha = 0.3) {}

  add(s: SpeedSample): void {
    const seconds = s.busySeconds > 0 ? s.busySeconds : s.wallSeconds;
    if (!(seconds > 0) || !(s.frames > 0)) return;
    const fps = s.frames / seconds;
    if (!Number.isFinite(fps)) return;
    let agents = this.byModel.get(s.modelSha256);
    if (!agents) this.byModel.set(s.modelSha256, (agents = new Map()));
    const prev = agents.get(s.agentId);
    agents.set(s.agentId, prev === undefined ? fps : prev + this.alpha * (fps - prev));
  }

  /** The agent's measured speed on the model; null when it has not run it. */
  measured(agentId: string, modelSha256: string): number | null {
    return this.byModel.get(modelSha256)?.get(agentId) ?? null;
  }

  /**
   * The agent's measured speed, or else the slowest speed measured on this
   * model by any agent (a cautious guess for a card not seen yet), or null
   * when nobody ran the model.
   */
  estimate(agentId: string, modelSha256: string): number | null {
    const own = this.measured(agentId, modelSha256);
    if (own !== null) return own;
    const all = this.byModel.get(modelSha256);
    if (!all || all.size === 0) return null;
    return Math.min(...all.values());
  }

  /** True when at least one agent has a measured speed on the model. */
  knows(modelSha256: string): boolean {
    return (this.byModel.get(modelSha256)?.size ?? 0) > 0;
  }
}
