import { spawn } from "node:child_process";
import { StepFailedError } from "../executor-registry.ts";
import type { AllowedProgram } from "./command-allowlist.ts";
import { ProcessGroup } from "../process-group.ts";

/** A line that says what went wrong; the first one is usually the cause, later ones its consequences. */
const PROBLEM = /error|no such|not found|cannot|can't|invalid|failed|denied/i;

export interface RunProgramOptions {
  program: AllowedProgram;
  name: string;
  args: string[];
  cwd: string;
  signal: AbortSignal;
  onLog: (text: string) => void;
  /** Grace between SIGTERM and SIGKILL of the process group. */
  killAfterMs?: number;
}

/**
 * Runs one allowed program without a shell, in its own process group so that
 * an abort ends whatever it started too (SIGTERM, then SIGKILL), and resolves
 * when it exits 0. A non-zero exit is a StepFailedError carrying the
 * program's last line of output.
 */
export function runProgram(o: RunProgramOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    if (o.signal.aborted) return reject(o.signal.reason);
    const env: Record<string, string> = { ...o.program.env };
    for (const k of ["PATH", "HOME", "LANG"]) if (process.env[k] !== undefined && env[k] === undefined) env[k] = process.env[k] as string;
    const child = spawn(o.program.path, o.args, { cwd: o.cwd, env, shell: false, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let last = "";
    let firstProblem = "";
    const take = (d: Buffer): void => {
      const text = d.toString("utf8");
      o.onLog(text);
      const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
      if (lines.length > 0) last = lines[lines.length - 1] as string;
      if (!firstProblem) firstProblem = lines.find((l) => PROBLEM.test(l)) ?? "";
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const group = new ProcessGroup(child.pid);
    const onAbort = (): void => group.stop(o.killAfterMs ?? 1000);
    const timeout = setTimeout(() => {
      last = `timed out after ${o.program.timeoutSeconds} s`;
      onAbort();
    }, o.program.timeoutSeconds * 1000);
    o.signal.addEventListener("abort", onAbort, { once: true });
    child.on("error", (err) => {
      clearTimeout(timeout);
      o.signal.removeEventListener("abort", onAbort);
      reject(new StepFailedError("command", `${o.name}: cannot start ${o.program.path}: ${err.message}`, { cause: err }));
    });
    child.on("close", (code, sig) => {
      clearTimeout(timeout);
      group.leaderClosed(true);
      o.signal.removeEventListener("abort", onAbort);
      if (o.signal.aborted) return reject(o.signal.reason);
      if (code === 0) return resolve();
      const how = sig ? `killed by ${sig}` : `exit ${code}`;
      reject(new StepFailedError("command", `${o.name} (${how}): ${firstProblem || last || "no output"}`));
    });
  });
}
