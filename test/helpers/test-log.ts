import { silentLogger, type Logger } from "../../shared/log.ts";

/** A logger that drops everything; set NIGHTSHIFT_TEST_LOG=debug to see what the code under test logs. */
export function testLog(): Logger {
  const level = process.env.NIGHTSHIFT_TEST_LOG;
  if (!level) return silentLogger();
  return silentLogger().child({}, { level });
}
