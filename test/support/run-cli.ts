import { spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../cli/paths.ts";

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `nightshift ...` as a real child process, without blocking this process's event loop. */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, "bin/nightshift.mjs"), ...args], {
      cwd: opts.cwd ?? PROJECT_ROOT,
      env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: "silent", NIGHTSHIFT_FROM_SOURCE: "1", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
