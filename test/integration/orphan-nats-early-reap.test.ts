import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { restartableCoordinator } from "../support/restartable-coordinator.ts";
import { tempDir } from "../support/farm.ts";
import { processEnded } from "../../coordinator/nats/orphan-nats.ts";

/**
 * A coordinator killed with SIGKILL leaves its nats-server running. The next start ends it (orphan-nats.ts); since
 * the thirteenth round the coordinator command starts that while it loads the coordinator's modules, before the
 * store and trust are opened, instead of after them. Real coordinator processes on one data dir, a real orphan.
 */
test("a restarted coordinator has ended the orphaned nats-server before it opens trust", async (t) => {
  const dir = tempDir(t, "ns-early-reap-");
  const coord = await restartableCoordinator(t, dir);
  const orphan = Number(readFileSync(join(dir, "data", "nats", "nats-server.pid"), "utf8").trim());
  await coord.kill();
  assert.equal(processEnded(orphan), false, "the killed coordinator's nats-server is still running");

  let endedAt: number | undefined;
  const watch = setInterval(() => {
    if (endedAt === undefined && processEnded(orphan)) endedAt = Date.now();
  }, 2);
  t.after(() => clearInterval(watch));
  await coord.restart();
  clearInterval(watch);
  const caLine = coord.now.output().split("\n").find((l) => l.includes('"studio CA loaded"'));
  assert.ok(caLine, `the restart logs "studio CA loaded"\n${coord.now.output().slice(-3000)}`);
  const caLoadedAt = (JSON.parse(caLine) as { time: number }).time;
  assert.ok(endedAt !== undefined, "the orphan was ended by the restart");
  t.diagnostic(`orphan ended ${caLoadedAt - endedAt} ms before the studio CA was loaded`);
  assert.ok(endedAt < caLoadedAt, `the orphan ended ${endedAt - caLoadedAt} ms after the studio CA was loaded: it waited for the store and trust`);
  await coord.now.stop();
});
