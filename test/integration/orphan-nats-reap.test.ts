import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { reapOrphanNats, writeNatsPidFile } from "../../coordinator/nats/orphan-nats.ts";
import { EmbeddedNatsServer } from "../../coordinator/nats/embedded-nats-server.ts";
import { testLog } from "../helpers/test-log.ts";
import { findNatsServer } from "../../shared/nats/find-nats-server.ts";
import { freePort } from "../support/free-port.ts";
import { tempDir } from "../support/farm.ts";

const binary = ((): string | undefined => {
  try {
    return findNatsServer();
  } catch {
    return undefined;
  }
})();

/** Binds `port` on 127.0.0.1 and closes it again: true when nothing else holds it. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

test("an orphaned nats-server (its coordinator SIGKILLed, its parent now init) is ended and its port is free once reapOrphanNats returns", { skip: binary ? false : "nats-server is not installed" }, async (t) => {
  const dir = tempDir(t, "ns-orphan-nats-");
  const port = await freePort();
  const config = join(dir, "nats-server.conf");
  writeFileSync(config, `listen: "127.0.0.1:${port}"\njetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\n`);
  // Started by a shell that exits at once: the server is an orphan, as after a coordinator's SIGKILL.
  const pid = Number(execFileSync("sh", ["-c", `"$0" -c "$1" >/dev/null 2>&1 & echo $!`, binary as string, config], { encoding: "utf8" }).trim());
  t.after(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  });
  for (let i = 0; i < 200 && (await portFree(port)); i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(await portFree(port), false, "the orphan listens");
  const pidFile = join(dir, "nats-server.pid");
  writeNatsPidFile(pidFile, pid);

  const started = performance.now();
  assert.equal(await reapOrphanNats(pidFile, config), pid);
  t.diagnostic(`reaped in ${Math.round(performance.now() - started)} ms`);
  assert.equal(await portFree(port), true, "its port is free for the new nats-server");
  const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
  assert.equal(cmdline, "", "it has ended (gone, or a zombie waiting for init)");
  assert.equal(existsSync(pidFile), false);
});

test("a pid that is not our nats-server (another config, or not nats-server) is left alone", async (t) => {
  const dir = tempDir(t, "ns-orphan-nats-");
  const pidFile = join(dir, "nats-server.pid");
  writeNatsPidFile(pidFile, process.pid);
  assert.equal(await reapOrphanNats(pidFile, join(dir, "nats-server.conf")), null);
  assert.equal(process.kill(process.pid, 0), true);
});

test("the embedded nats-server takes its earlier run's port again when that port is let go a moment after the start", { skip: binary ? false : "nats-server is not installed" }, async (t) => {
  const dir = tempDir(t, "ns-saved-port-");
  const port = await freePort();
  writeFileSync(join(dir, "port"), `${port}\n`);
  // Something still holds the port for 300 ms, as an old server's sockets being closed.
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
  setTimeout(() => holder.close(), 300);
  const nats = new EmbeddedNatsServer({ dir, log: testLog(), supervise: false });
  t.after(() => nats.stop());
  assert.equal(await nats.start(), `nats://127.0.0.1:${port}`, "the same URL, so agents reconnect to it");
});
