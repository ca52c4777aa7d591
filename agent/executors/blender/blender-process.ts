import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { ProcessGroup } from "../process-group.ts";

/**
 * One Blender process in its own process group, its stdout and stderr read
 * as one stream of lines while it runs. `stop()` ends the whole group
 * (SIGTERM, then SIGKILL after a short grace), so a cancelled chunk leaves
 * nothing rendering behind it, whatever Blender started.
 */

/** How long Blender gets to exit on SIGTERM before the group is killed. */
export const BLENDER_KILL_GRACE_MS = 400;

export interface BlenderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface BlenderProcess {
  readonly pid: number | undefined;
  /** Every output line, in arrival order; ends once both streams have closed. */
  readonly lines: AsyncIterable<string>;
  /** Settles when the process has exited and its output is drained; rejects when it could not start. */
  readonly exited: Promise<BlenderExit>;
  /** Ends the process group: SIGTERM now, SIGKILL after the grace. Safe to call more than once. */
  stop(): void;
}

export function startBlender(bin: string, args: readonly string[], graceMs = BLENDER_KILL_GRACE_MS): BlenderProcess {
  // detached: setsid(), so Blender leads a process group of its own and `kill(-pid)` reaches all of it.
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const lines = new PassThrough({ objectMode: true });
  let open = 2;
  for (const stream of [child.stdout, child.stderr]) {
    const reader = createInterface({ input: stream, crlfDelay: Infinity });
    reader.on("line", (line) => {
      // A reader that stopped early destroyed `lines`; the rest is no longer wanted.
      if (!lines.destroyed) lines.write(line);
    });
    reader.on("close", () => {
      open -= 1;
      if (open === 0) lines.end();
    });
  }
  let done = false;
  const group = new ProcessGroup(child.pid);
  const exited = new Promise<BlenderExit>((resolve, reject) => {
    child.once("error", (err) => {
      done = true;
      lines.end();
      reject(err);
    });
    child.once("close", (code, signal) => {
      done = true;
      // Anything Blender left in its group goes with it once a stop was asked for.
      group.leaderClosed(group.stopAsked);
      resolve({ code, signal });
    });
  });
  // Callers await `exited` only after draining lines; keep an early spawn error from being unhandled.
  exited.catch(() => undefined);
  return {
    pid: child.pid,
    lines,
    exited,
    stop() {
      if (!done) group.stop(graceMs);
    },
  };
}
