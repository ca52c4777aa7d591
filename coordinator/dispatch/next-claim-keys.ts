import type { ClaimResult } from "./claim-service.ts";

/**
 * Why this file exists: a claim for the next chunk (ClaimRequest.next) takes a chunk for the agent at
 * once. When the claim stream broke after the coordinator took it, the agent asked again over the unary
 * call and was answered with a *different* chunk, while the first attempt ran nowhere until the heartbeat
 * rule lost it (agent-registry.ts: the agent timeout plus a heartbeat). The agent now keeps a key for its
 * ask until it gets an answer (ClaimRequest.next_key, agent/grpc/gateway-client.ts), and this remembers,
 * per agent, the last key and the answer it got, so a repeat of that key is answered with the same
 * attempt while the attempt is still live (ClaimService.claimNextBatched checks that).
 *
 * One entry per agent: an agent has one such ask at a time (its work loop waits for it), and a new key
 * replaces the old. In memory only: after a coordinator restart a repeated key claims afresh, and the
 * first attempt is lost work, as any attempt of the old process that its agent does not run.
 */
export class NextClaimKeys {
  private readonly byAgent = new Map<string, { key: string; answer: Promise<ClaimResult> }>();

  /** The answer this agent's ask with `key` got (or is getting: its claim may not have committed yet); undefined for a new key. */
  earlier(agentId: string, key: string): Promise<ClaimResult> | undefined {
    const e = this.byAgent.get(agentId);
    return e !== undefined && e.key === key ? e.answer : undefined;
  }

  /** Keeps the answer to this agent's ask with `key`, replacing its earlier key's. */
  remember(agentId: string, key: string, answer: Promise<ClaimResult>): void {
    this.byAgent.set(agentId, { key, answer });
  }
}
