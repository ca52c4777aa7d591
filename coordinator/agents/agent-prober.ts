/**
 * Why this file exists: the registry's loss decision asks whether a silent
 * agent's process still lives (silent-agent-verdict.ts) without knowing how
 * that is found out. This is the seam: the real one TCP-connects to the
 * agent's health port (tcp-agent-prober.ts), tests pass a fake.
 */

/**
 * - answered: the connection was accepted (by the kernel: the process may be stopped or starved);
 * - refused: refused or reset: nothing listens there any more (the process is gone), or a firewall or NAT on the
 *   way answers for the host with a reset (the same verdict: the agent cannot be reached there);
 * - no-answer: nothing within the timeout, or no route (cut link, machine down).
 */
export type ProbeAnswer = "answered" | "refused" | "no-answer";

export interface AgentProber {
  /** Probes `address` ("host:port" or "[v6]:port", as the registry stored it from the agent's join). Never rejects. */
  probe(address: string, timeoutMs: number): Promise<ProbeAnswer>;
}
