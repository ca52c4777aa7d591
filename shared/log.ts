import { pino, type Logger } from "pino";

export type { Logger };

/**
 * One root logger per process. Messages are fixed strings; data goes in fields:
 * `log.info({ chunkId }, "chunk done")`. Logs go to stderr so that stdout stays
 * free for `--json` output.
 */
export function createLogger(name: string, level = process.env.NIGHTSHIFT_LOG_LEVEL ?? "info"): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: false }));
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
