import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { RUN_COMPILED } from "./compiled-cli.ts";
import { endWithThisProcess } from "./end-children.ts";

/** A nightshift CLI process started by a test; ended only by its own pid. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  /** Resolves when a line matching `re` appears on stdout or stderr. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after graceMs; safe when already gone. */
  stop(graceMs?: number): Promise<void>;
}

/** `compiled`: a compiled main.js to run (test/support/compiled-cli.ts) instead of the TypeScript through tsx. */
export function startCli(args: string[], opts: { env?: Record<string, string>; netns?: string; cwd?: string; compiled?: string } = {}): CliProcess {
  const bin = opts.compiled ? [RUN_COMPILED, opts.compiled] : [join(PROJECT_ROOT, "bin/nightshift.mjs")];
  const argv = opts.netns ? ["netns", "exec", opts.netns, process.execPath, ...bin, ...args] : [...bin, ...args];
  const child = spawn(opts.netns ? "ip" : process.execPath, argv, {
    cwd: opts.cwd ?? PROJECT_ROOT,
    env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: "info", NIGHTSHIFT_FROM_SOURCE: "1", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  endWithThisProcess(child);
  let out = "";
  const waiters = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
    for (const w of waiters) w();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  const proc: CliProcess = {
    child,
    pid: child.pid as number,
    output: () => out,
    exited,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            cleanup();
            resolve(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`process ${child.pid} exited before ${re}: ${out.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${re}: ${out.slice(-2000)}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return proc;
}
