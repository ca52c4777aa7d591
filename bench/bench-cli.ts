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
  main().then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    },
    (err: unknown) => {
      const bad = err instanceof BadInputError;
      process.stderr.write(`${bad ? "" : "bench failed: "}${err instanceof Error ? (bad ? err.message : (err.stack ?? err.message)) : String(err)}\n`);
      process.exitCode = bad ? 2 : 1;
    },
  );
}
