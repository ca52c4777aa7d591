import { mkdtempSync, rmSync, statSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BadInputError } from "../shared/errors.ts";
import { createLogger, type Logger } from "../shared/log.ts";

/**
 * What every benchmark shares: flag parsing with named errors, a temp dir that
 * is removed however the run ends, a quiet logger (stderr, "warn" unless
 * NIGHTSHIFT_LOG_LEVEL says otherwise) and one JSON object on stdout.
 */

export type FlagSpec = Record<string, { default: string }>;

/** Parses `--name value` flags; unknown flags and positionals are a BadInputError. */
export function parseFlags<T extends FlagSpec>(argv: readonly string[], spec: T): { [K in keyof T]: string } {
  const options = Object.fromEntries(Object.keys(spec).map((k) => [k, { type: "string" as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new BadInputError(`arguments: ${(err as Error).message}`, { field: "argv", cause: err });
  }
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(spec)) {
    const v = values[k];
    out[k] = typeof v === "string" ? v : s.default;
  }
  return out as { [K in keyof T]: string };
}

/** A whole number in [min, max], or a BadInputError naming the flag. */
export function intFlag(name: string, raw: string, min: number, max: number): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new BadInputError(`--${name}: expected a whole number ${min}..${max}, got '${raw}'`, { field: name });
  return n;
}

/** A comma-separated list of whole numbers, each in [min, max]. */
export function intListFlag(name: string, raw: string, min: number, max: number): number[] {
  const parts = raw.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0 || parts.length > 8) throw new BadInputError(`--${name}: expected 1..8 comma-separated numbers, got '${raw}'`, { field: name });
  return parts.map((p) => intFlag(name, p, min, max));
}

/** --dir: an existing directory to hold the bench's temp dir, or undefined for os.tmpdir(). */
export function parentDirFlag(raw: string): string | undefined {
  if (raw === "") return undefined;
  const dir = resolve(raw);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new BadInputError(`--dir: ${dir} is not an existing directory`, { field: "dir" });
  return dir;
}

/** Linux statfs magic numbers of the file systems a bench is likely to land on. */
const FS_TYPES: Record<number, string> = { 0xef53: "ext4", 0x01021994: "tmpfs", 0x58465342: "xfs", 0x9123683e: "btrfs", 0x794c7630: "overlayfs", 0x6969: "nfs", 0x65735546: "fuse" };

/** The file system under `path`, by name where known (fsync cost depends on it). */
export function fileSystemType(path: string): string {
  try {
    const t = statfsSync(path).type;
    return FS_TYPES[t] ?? `0x${t.toString(16)}`;
  } catch {
    return "unknown";
  }
}

/** Cleanups to run if the process is interrupted mid-run, newest first. */
const onInterrupt: Array<() => Promise<void> | void> = [];

/**
 * Registers what must be undone if SIGINT/SIGTERM arrives while `fn` runs
 * (child processes such as nats-server, temp dirs); `fn`'s own finally does
 * the same on a normal end.
 */
export async function cleanupOnInterrupt<T>(cleanup: () => Promise<void> | void, fn: () => Promise<T>): Promise<T> {
  onInterrupt.push(cleanup);
  try {
    return await fn();
  } finally {
    const i = onInterrupt.lastIndexOf(cleanup);
    if (i >= 0) onInterrupt.splice(i, 1);
  }
}

/** Runs `fn` with a fresh temp dir under `parent` (default os.tmpdir()), removed afterwards. */
export async function withTempDir<T>(prefix: string, parent: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(resolve(parent ?? tmpdir()), prefix));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    return await cleanupOnInterrupt(remove, () => fn(dir));
  } finally {
    remove();
  }
}

function exitOnSignals(): void {
  let exiting = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`bench interrupted (${signal}): cleaning up\n`);
    const steps = onInterrupt.splice(0).reverse();
    const run = async (): Promise<void> => {
      for (const step of steps) await Promise.resolve(step()).catch(() => undefined);
    };
    const cap = new Promise<void>((r) => setTimeout(r, 10_000).unref());
    void Promise.race([run(), cap]).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

export function benchLogger(name: string): Logger {
  return createLogger(name, process.env.NIGHTSHIFT_LOG_LEVEL ?? "warn");
}

export const MB = 1_000_000;

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** p-th percentile (0..100) by nearest rank; NaN for an empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** The q-quantile (0..1) by linear interpolation between order statistics; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

/**
 * A percentile bootstrap interval for the median of `xs`: `level` (0.9 gives
 * the 5th and 95th percentiles of the medians of `resamples` resamples).
 * Seeded (mulberry32), so a run's interval can be reproduced from its values.
 */
export function bootstrapMedianInterval(xs: readonly number[], level = 0.9, resamples = 2000, seed = 1): { low: number; high: number } {
  if (xs.length === 0) return { low: NaN, high: NaN };
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const medians: number[] = [];
  const sample = new Array<number>(xs.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < xs.length; i++) sample[i] = xs[Math.floor(random() * xs.length)] as number;
    medians.push(median(sample));
  }
  const tail = (1 - level) / 2;
  return { low: quantile(medians, tail), high: quantile(medians, 1 - tail) };
}

/** Milliseconds on the monotonic clock as seconds. */
export function nowSeconds(): number {
  return performance.now() / 1000;
}

/**
 * Runs a benchmark's main: the result goes to stdout as one JSON line; a
 * BadInputError exits 2, anything else 1, with the message on stderr.
 */
export function runBench(main: () => Promise<unknown>): void {
  exitOnSignals();
  let settled = false;
  // A bench whose work waits on something that can never happen would otherwise end with status 0 and print nothing.
  const unsettled = (): void => {
    if (settled) return;
    process.stderr.write("bench failed: its work was still waiting when nothing was left to run (a promise that never settles)\n");
    process.exitCode = 1;
  };
  process.once("beforeExit", unsettled);
  main().then(
    (result) => {
      settled = true;
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    },
    (err: unknown) => {
      settled = true;
      const bad = err instanceof BadInputError;
      process.stderr.write(`${bad ? "" : "bench failed: "}${err instanceof Error ? (bad ? err.message : (err.stack ?? err.message)) : String(err)}\n`);
      process.exitCode = bad ? 2 : 1;
    },
  );
}
