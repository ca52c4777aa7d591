import type { Clock } from "../../shared/clock.ts";

/**
 * Why this file exists: lost work is placed first on a live agent
 * (lost-work-first.ts), and "live" meant heard within 1.5 heartbeat periods.
 * An agent whose link was cut 0.7 s before was still that fresh: in the
 * fifteenth round's soak a lost chunk placed on such an agent waited until it
 * was heard again, 5.3 s in all, while the one agent that could run it was
 * heard and busy. Silence is noticed only after 2-3 s; a question is answered
 * in milliseconds.
 *
 * So when work is lost, the online agents are asked for a heartbeat now (the
 * heartbeat-now control message). For up to `ms` after the ask, lost work is
 * placed only on agents that answered; a cut link cannot. The first answer
 * asks for a pass, and when the roll call closes unanswered the placement
 * falls back to the freshness rule, so lost work waits at most `ms` for it,
 * and a few milliseconds on a healthy LAN. An answer is a heartbeat that
 * echoes the ask (its time, as a number): a heartbeat that was already on its
 * way when the coordinator asked (the soak: one sent just before its agent's
 * link was cut, read 30 ms after the ask) says nothing about the link now.
 * An agent of an earlier version echoes nothing: never an answer, the
 * fallback decides after `ms`.
 */
export interface RollCallDeps {
  /** Asks every online agent for a heartbeat now, one that echoes `ask` (none: a plain ask). */
  ask: (ask?: number) => void;
  /** The `answers` of the agent's latest heartbeat (the last ask it echoes); undefined: none. */
  answers: (agentId: string) => number | undefined;
  /** How long answers are waited for. */
  ms: number;
  clock: Clock;
  /** Asks for a dispatch pass (the roll call closed: lost work still waiting is placed by the fallback rule). */
  kick?: () => void;
}

export class RollCall {
  private askedAt: number | undefined;
  private closing: NodeJS.Timeout | undefined;

  constructor(private readonly d: RollCallDeps) {}

  /** Work was lost: asks the agents, unless a roll call is open already (its answers serve this work too). */
  call(): void {
    const now = this.d.clock();
    if (this.open(now)) return;
    this.askedAt = now;
    this.d.ask(now);
    if (this.d.kick) {
      clearTimeout(this.closing);
      this.closing = setTimeout(() => this.d.kick?.(), this.d.ms);
      this.closing.unref();
    }
  }

  /**
   * Asks the agents again, with the open roll call's number (a plain ask when none is open): after a restart the
   * first ask went out before the heartbeat subscription, so its answers were dropped (and the roll call waited
   * out its bound: the restart's first claim 0.7 s later in the soak), and an ask sent while the bus was down is lost.
   */
  askAgain(): void {
    const now = this.d.clock();
    this.d.ask(this.open(now) ? this.askedAt : undefined);
  }

  /** Answers are still waited for. */
  open(now: number): boolean {
    return this.askedAt !== undefined && now - this.askedAt < this.d.ms;
  }

  /** The agent's heartbeat answered the ask (echoes it, or a later one). */
  answered(agentId: string): boolean {
    const echoed = this.d.answers(agentId);
    return this.askedAt !== undefined && echoed !== undefined && echoed >= this.askedAt;
  }

  stop(): void {
    clearTimeout(this.closing);
  }
}
