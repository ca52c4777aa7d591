// Why this file exists: one place that decides how every process logs: human-readable lines when a person
// watches a terminal, JSON lines for files, pipes, journald and log shippers.
import { pino, type Logger } from "pino";
import { createRequire } from "node:module";
import type { PinoPretty as PinoPrettyFn } from "pino-pretty";

export type { Logger };

export type LogFormat = "pretty" | "json";

export interface LoggerOptions {
  /** A file to append JSON lines to instead of stderr (the demo keeps the terminal for its progress bar). */
  file?: string;
  /** Overrides NIGHTSHIFT_LOG_FORMAT and the terminal check. */
  format?: LogFormat;
}

/**
 * `pretty` when stderr is a terminal, `json` otherwise; NIGHTSHIFT_LOG_FORMAT=json|pretty (or the CLI's
 * `--log-format`) forces one. Anything else in the variable is refused by the CLI before a logger exists.
 */
export function logFormat(isTerminal = process.stderr.isTTY === true): LogFormat {
  const asked = process.env.NIGHTSHIFT_LOG_FORMAT;
  if (asked === "json" || asked === "pretty") return asked;
  return isTerminal ? "pretty" : "json";
}

/**
 * One root logger per process. Messages are fixed strings; data goes in fields:
 * `log.info({ chunkId }, "chunk done")`. Logs go to stderr so that stdout stays
 * free for `--json` output.
 */
export function createLogger(name: string, level = process.env.NIGHTSHIFT_LOG_LEVEL ?? "info", options: LoggerOptions = {}): Logger {
  const settings = { name, level, base: { pid: process.pid } };
  // A file is written synchronously: a few dozen lines a run, none lost when the process ends.
  if (options.file) return pino(settings, pino.destination({ dest: options.file, sync: true, mkdir: true }));
  if ((options.format ?? logFormat()) === "pretty") {
    // Synchronous on fd 2 so that a line is on screen before the process exits; no worker thread.
    // Required here, not imported with this file: a JSON-logging process (a coordinator under systemd) never loads pino-pretty's 40 modules.
    const { PinoPretty } = createRequire(import.meta.url)("pino-pretty") as { PinoPretty: typeof PinoPrettyFn };
    return pino(settings, PinoPretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }));
  }
  return pino(settings, pino.destination({ dest: 2, sync: false }));
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
