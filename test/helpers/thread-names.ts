import { existsSync, readdirSync, readFileSync } from "node:fs";

/** The OS names of this process's threads (shared/thread-name.ts sets the workers'), or undefined where /proc has none. */
export function threadNames(): string[] | undefined {
  if (!existsSync("/proc/thread-self/comm")) return undefined;
  return readdirSync("/proc/self/task").map((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
    } catch {
      return ""; // a thread that ended meanwhile
    }
  });
}
