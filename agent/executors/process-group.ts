/**
 * The process group of a child spawned with `detached: true` (setsid), so
 * that `kill(-pid)` reaches the child and everything it started. Blender and
 * command steps both end their work this way: SIGTERM first, SIGKILL after a
 * grace, and SIGKILL to whatever is left once the leader has exited.
 */
export class ProcessGroup {
  private killTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly pid: number | undefined) {}

  /** Whether stop() was asked for. */
  get stopAsked(): boolean {
    return this.stopping;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      // ESRCH: the group is already gone
    }
  }

  /** SIGTERM now, SIGKILL after `graceMs`. Safe to call more than once. */
  stop(graceMs: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.signal("SIGTERM");
    this.killTimer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    this.killTimer.unref();
  }

  /** The leader exited: the pending SIGKILL is dropped; `killRest` kills what it left in its group. */
  leaderClosed(killRest: boolean): void {
    clearTimeout(this.killTimer);
    if (killRest) this.signal("SIGKILL");
  }
}
