// Why this file exists: the data-dir lock tests need other processes that take the lock (several at once on a
// stale lock, or one to SIGKILL). It takes the lock on argv[2], prints "held" or "locked: <message>", then holds
// until its stdin closes, lets go and exits.
import { lockDataDir } from "../../shared/data-dir-lock/data-dir-lock.ts";

const dir = process.argv[2] as string;
try {
  const lock = lockDataDir(dir, "test-child");
  process.stdout.write(`held ${lock.staleHolder ? `stale ${lock.staleHolder.pid}` : "fresh"}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => {
    lock.release();
    process.exit(0);
  });
} catch (err) {
  process.stdout.write(`locked: ${(err as Error).message}\n`);
  process.exit(2);
}
