import { assertTransition, type Transitions } from "../../shared/lifecycle/state-machine.ts";
import type { Clock } from "../../shared/clock.ts";
import type { OtherGpuUsers } from "../probe/other-gpu-users.ts";

/**
 * Whether the agent may take a new chunk, given who else uses its GPU. Pure
 * state machine over an injected clock:
 *
 *   free --someone else seen--> in-use --card free--> cooling-down --freeForMs passed--> free
 *                                  ^------someone else seen again------'
 *
 * Only `free` takes new chunks; a chunk already running always finishes (the
 * gate is asked before each pull, never during a chunk). A source that cannot
 * list GPU processes (CPU agents, no per-process query) never leaves `free`.
 */
export type ForeignGpuState = "free" | "in-use" | "cooling-down";

export const FOREIGN_GPU_TRANSITIONS: Transitions<ForeignGpuState> = {
  free: ["in-use"],
  "in-use": ["cooling-down", "free"],
  "cooling-down": ["in-use", "free"],
};

const GIB = 1024 ** 3;

export class ForeignGpuGate {
  private current: ForeignGpuState = "free";
  private freeSinceMs = 0;
  private lastSeen: OtherGpuUsers | null = null;

  /** freeForMs: how long the card must stay free before work resumes (0: at once). */
  constructor(
    private readonly freeForMs: number,
    private readonly now: Clock,
  ) {
    if (!(Number.isFinite(freeForMs) && freeForMs >= 0)) throw new RangeError(`freeForMs must be >= 0, got ${freeForMs}`);
  }

  get state(): ForeignGpuState {
    this.settle();
    return this.current;
  }

  /** One look at the GPU's processes; null when the source could not list them this time (no change). */
  observe(seen: OtherGpuUsers | null): void {
    if (seen === null) return this.settle();
    if (seen.busy) {
      this.lastSeen = seen;
      if (this.current !== "in-use") this.to("in-use");
      return;
    }
    if (this.current === "in-use") {
      this.freeSinceMs = this.now();
      this.to(this.freeForMs === 0 ? "free" : "cooling-down");
    }
    this.settle();
  }

  mayTakeWork(): boolean {
    return this.state === "free";
  }

  /** For `nightshift agents`: why the agent is not taking work; "" when it is. */
  note(): string {
    const s = this.state;
    if (s === "free") return "";
    if (s === "in-use") {
      const o = this.lastSeen;
      const pids = o === null ? "" : o.others.map((p) => p.pid).slice(0, 4).join(", ");
      const bytes = o !== null && o.othersBytes > 0 ? `, ${(o.othersBytes / GIB).toFixed(1)} GiB` : "";
      return `another process uses the GPU (pid ${pids}${bytes}); not taking new chunks`;
    }
    const freeFor = Math.floor((this.now() - this.freeSinceMs) / 1000);
    return `GPU free for ${freeFor} s of ${Math.ceil(this.freeForMs / 1000)} s; not taking new chunks yet`;
  }

  private settle(): void {
    if (this.current === "cooling-down" && this.now() - this.freeSinceMs >= this.freeForMs) this.to("free");
  }

  private to(next: ForeignGpuState): void {
    assertTransition("foreign gpu gate", FOREIGN_GPU_TRANSITIONS, this.current, next);
    this.current = next;
  }
}
