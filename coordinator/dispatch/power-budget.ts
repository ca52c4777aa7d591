/**
 * The studio power budget. Pure: the farm's measured draw and each agent's
 * expected draw when busy in, the number of chunks that may still be started
 * out.
 *
 * Chunks go to a shared queue and any idle agent may take the next one, so
 * the rule assumes the worst: each queued chunk starts on the idle agent that
 * would add the most power (busy draw minus what it draws now). A new chunk
 * is allowed while
 *
 *   measured farm draw + the increases of the queued chunks + its own increase <= budget.
 *
 * Once every idle agent is spoken for, a further chunk only waits for a busy
 * agent to finish, which then keeps drawing about what it draws now: its
 * increase is 0, so it is allowed while the projection stays within budget.
 * A farm already over budget starts nothing.
 */

export interface AgentPower {
  agentId: string;
  /** Latest measured draw (fresh telemetry); null when not known. */
  watts: number | null;
  /** Running a chunk now. */
  busy: boolean;
  /** Could take a chunk now (online, idle, not paused for someone else's GPU use). */
  available: boolean;
  /** Expected draw while rendering: from its history, else its power limit; null when neither is known. */
  busyWatts: number | null;
}

/** Assumed busy draw of an agent nothing is known about, when no other agent is known either (a mid-range GPU board). */
export const UNKNOWN_AGENT_BUSY_WATTS = 350;

export interface PowerBudgetDecision {
  /** How many of the wanted chunks may be started now. */
  allowed: number;
  /** Sum of the agents' current draw (measured, else expected when busy, else 0). */
  farmWatts: number;
  /** farmWatts plus the increases of the queued chunks and of the allowed ones. */
  projectedWatts: number;
  budgetWatts: number;
}

function finite(v: number | null): number | null {
  return v !== null && Number.isFinite(v) && v >= 0 ? v : null;
}

export function chunksWithinBudget(budgetWatts: number, agents: readonly AgentPower[], queued: number, wanted: number): PowerBudgetDecision {
  if (!(budgetWatts > 0)) throw new RangeError(`power budget must be > 0 W, got ${budgetWatts}`);
  const known = agents.map((a) => finite(a.busyWatts)).filter((w): w is number => w !== null);
  const fallback = known.length > 0 ? Math.max(...known) : UNKNOWN_AGENT_BUSY_WATTS;
  const expected = (a: AgentPower): number => finite(a.busyWatts) ?? fallback;
  const current = (a: AgentPower): number => finite(a.watts) ?? (a.busy ? expected(a) : 0);

  const farmWatts = agents.reduce((sum, a) => sum + current(a), 0);
  const increases = agents
    .filter((a) => a.available && !a.busy)
    .map((a) => Math.max(0, expected(a) - current(a)))
    .sort((x, y) => y - x);
  const q = Math.max(0, Math.floor(queued));
  let projected = farmWatts + increases.slice(0, q).reduce((s, w) => s + w, 0);
  let allowed = 0;
  for (let k = 0; k < Math.max(0, Math.floor(wanted)); k += 1) {
    const inc = increases[q + k] ?? 0;
    if (projected + inc > budgetWatts) break;
    projected += inc;
    allowed += 1;
  }
  return { allowed, farmWatts, projectedWatts: projected, budgetWatts };
}
