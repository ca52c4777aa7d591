import type { Clock } from "../../shared/clock.ts";

/**
 * Limits on tokenless enrollment requests, which anyone on the LAN can send:
 * at most `maxPending` agents wait for an admin's approval at once (agents
 * let in by a token or an approval but not joined yet do not count), and one source
 * address may add at most `perAddressPerMinute` new pending agents a minute.
 * Asking again for an agent that already waits is not counted (pending agents
 * poll every 2 s). Memory is bounded: at most `maxAddresses` addresses are
 * remembered, the oldest forgotten first.
 */
export interface EnrollmentLimits {
  readonly maxPending: number;
  readonly perAddressPerMinute: number;
  readonly maxAddresses?: number;
}

export const DEFAULT_ENROLLMENT_LIMITS: EnrollmentLimits = { maxPending: 32, perAddressPerMinute: 5 };

export class EnrollmentThrottle {
  private readonly recent = new Map<string, number[]>();

  constructor(
    private readonly limits: EnrollmentLimits,
    private readonly clock: Clock,
  ) {}

  /** Why a new pending request from `address` is refused now, or null (and the request is counted). */
  admitNewPending(address: string, pendingNow: number): string | null {
    if (pendingNow >= this.limits.maxPending) {
      return `${pendingNow} agents already wait for approval (limit ${this.limits.maxPending}); approve or remove some, or enroll with a join token`;
    }
    const now = this.clock();
    const times = (this.recent.get(address) ?? []).filter((t) => now - t < 60_000);
    if (times.length >= this.limits.perAddressPerMinute) {
      this.recent.set(address, times);
      return `too many approval requests from ${address} (limit ${this.limits.perAddressPerMinute} a minute); try again later`;
    }
    times.push(now);
    this.recent.delete(address);
    this.recent.set(address, times);
    const max = this.limits.maxAddresses ?? 4096;
    while (this.recent.size > max) this.recent.delete(this.recent.keys().next().value as string);
    return null;
  }
}

/** "ipv4:10.0.0.5:51234" / "ipv6:[fe80::1]:51234" (grpc-js getPeer) -> the address without the port. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(bare);
  if (v6) return v6[1] as string;
  const v4 = /^([^:]+):\d+$/.exec(bare);
  return v4 ? (v4[1] as string) : bare;
}
