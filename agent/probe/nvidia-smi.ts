import { execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import {
  COMPUTE_APPS_FIELDS,
  GPU_QUERY_FIELDS,
  parseComputeAppsOutput,
  parseGpuQueryLine,
  parseGpuQueryOutput,
  type SmiComputeApp,
  type SmiGpuReading,
} from "./nvidia-smi-csv.ts";

/**
 * nvidia-smi as a process: a long-running sampler (`-lms N`, one CSV line per
 * GPU per round) and one-shot queries. `bin` and `binArgs` are injectable so
 * tests can run a replay script in place of nvidia-smi.
 */

export interface SmiCommand {
  /** Default "nvidia-smi". */
  bin?: string;
  /** Arguments placed before nvidia-smi's own. */
  binArgs?: string[];
}

export interface TimedSmiReading extends SmiGpuReading {
  /** When the line arrived (now()). */
  tMs: number;
}

export interface SmiSamplerOptions extends SmiCommand {
  intervalMs: number;
  onReading(reading: TimedSmiReading): void;
  /** Spawn failure, or the process ending before stop(). */
  onError?(err: Error): void;
  now?: () => number;
  /** Grace before SIGKILL after SIGTERM on stop. Default 2000 ms. */
  killAfterMs?: number;
}

export interface SmiSampler {
  readonly pid: number | undefined;
  /** Kills the child (SIGTERM, then SIGKILL) and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

export type SmiResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const FORMAT = "--format=csv,noheader,nounits";

export function gpuQueryArgs(loopMs?: number): string[] {
  const args = [`--query-gpu=${GPU_QUERY_FIELDS.join(",")}`, FORMAT];
  return loopMs === undefined ? args : [...args, "-lms", String(Math.max(1, Math.round(loopMs)))];
}

export function computeAppsArgs(): string[] {
  return [`--query-compute-apps=${COMPUTE_APPS_FIELDS.join(",")}`, FORMAT];
}

export function startSmiSampler(options: SmiSamplerOptions): SmiSampler {
  const now = options.now ?? Date.now;
  const child = spawn(options.bin ?? "nvidia-smi", [...(options.binArgs ?? []), ...gpuQueryArgs(options.intervalMs)], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  let stopping = false;
  const exited = new Promise<void>((resolve) => {
    child.once("close", () => resolve());
    child.once("error", (err) => {
      if (!stopping) options.onError?.(err);
      resolve();
    });
  });
  child.once("exit", (code, signal) => {
    if (!stopping) options.onError?.(new Error(`nvidia-smi sampler exited (code ${code}, signal ${signal})`));
  });
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    const r = parseGpuQueryLine(line);
    if (r !== null) options.onReading({ ...r, tMs: now() });
  });
  let stopped: Promise<void> | undefined;
  return {
    pid: child.pid,
    stop(): Promise<void> {
      stopped ??= (async () => {
        stopping = true;
        lines.close();
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 2000);
          timer.unref();
          await exited;
          clearTimeout(timer);
        } else {
          await exited;
        }
      })();
      return stopped;
    },
  };
}

/** Runs nvidia-smi once; ENOENT, a non-zero exit or a timeout become a reason. */
export function runSmi(args: string[], command: SmiCommand = {}, timeoutMs = 10_000): Promise<SmiResult<string>> {
  const bin = command.bin ?? "nvidia-smi";
  return new Promise((resolve) => {
    execFile(bin, [...(command.binArgs ?? []), ...args], { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ ok: true, value: stdout });
        return;
      }
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      const why =
        e.code === "ENOENT"
          ? `${bin} not found on PATH`
          : e.killed === true
            ? `${bin} timed out after ${timeoutMs} ms`
            : `${bin} failed: ${(stderr || stdout || e.message).trim().split("\n")[0]}`;
      resolve({ ok: false, reason: why });
    });
  });
}

export async function queryGpus(command: SmiCommand = {}): Promise<SmiResult<SmiGpuReading[]>> {
  const r = await runSmi(gpuQueryArgs(), command);
  return r.ok ? { ok: true, value: parseGpuQueryOutput(r.value) } : r;
}

export async function queryComputeApps(command: SmiCommand = {}): Promise<SmiResult<SmiComputeApp[]>> {
  const r = await runSmi(computeAppsArgs(), command);
  return r.ok ? { ok: true, value: parseComputeAppsOutput(r.value) } : r;
}
