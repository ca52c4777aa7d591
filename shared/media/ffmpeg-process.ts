import { spawn, type ChildProcess } from "node:child_process";

/**
 * Running ffmpeg/ffprobe as child processes: stderr tail kept for errors,
 * SIGTERM on abort then SIGKILL after a grace period.
 */

export const KILL_GRACE_MS = 2000;
const STDERR_TAIL_BYTES = 4000;

/** ffmpeg or ffprobe failed; `stderrTail` is the end of what it printed. */
export class FfmpegError extends Error {
  override readonly name = "FfmpegError";
  constructor(
    message: string,
    readonly stderrTail: string,
    readonly exitCode: number | null,
    options: { cause?: unknown } = {},
  ) {
    super(stderrTail === "" ? message : `${message}: ${stderrTail.trim().split("\n").slice(-3).join(" | ")}`, options);
  }
}

/** Keeps the last few KB of a stream's text. */
export class TailBuffer {
  private text = "";
  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-STDERR_TAIL_BYTES);
  }
  toString(): string {
    return this.text;
  }
}

/** SIGTERM now, SIGKILL if it has not exited after the grace period. */
export function stopProcess(child: ChildProcess, graceMs = KILL_GRACE_MS): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }, graceMs);
  timer.unref();
  child.once("exit", () => clearTimeout(timer));
}

/** Resolves with the exit code (or null when killed by a signal); rejects if it could not start. */
export function waitForExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode);
      return;
    }
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs a program to completion, collecting stdout. Non-zero exit is an
 * FfmpegError with `what` in the message; abort kills the process and rejects
 * with the signal's reason.
 */
export async function runToCompletion(
  bin: string,
  args: string[],
  what: string,
  signal?: AbortSignal,
): Promise<RunResult> {
  signal?.throwIfAborted();
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  const stdout: Buffer[] = [];
  const stderr = new TailBuffer();
  child.stdout.on("data", (c: Buffer) => stdout.push(c));
  child.stderr.on("data", (c: Buffer) => stderr.push(c));
  const onAbort = (): void => stopProcess(child);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const code = await waitForExit(child);
    signal?.throwIfAborted();
    if (code !== 0) throw new FfmpegError(`${what} failed (exit ${String(code)})`, stderr.toString(), code);
    return { stdout: Buffer.concat(stdout), stderr: stderr.toString() };
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
