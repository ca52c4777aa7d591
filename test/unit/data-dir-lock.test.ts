import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { DATA_DIR_LOCK_FILE, DataDirLockedError, lockDataDir } from "../../shared/data-dir-lock/data-dir-lock.ts";
import { localHostFacts, redactedCommand, thisProcess, type HostFacts, type LockHolder } from "../../shared/data-dir-lock/lock-holder.ts";
import { BadInputError } from "../../shared/errors.ts";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { tempDir } from "../support/farm.ts";

const CHILD = join(PROJECT_ROOT, "test/support/data-dir-lock-child.ts");

/** A lock file written as `holder` would have, with `change` applied. */
function writeLock(dir: string, change: Partial<LockHolder>, facts: HostFacts = localHostFacts()): string {
  const text = `${JSON.stringify({ ...thisProcess("coordinator", `t-${Math.random()}`, facts), ...change })}\n`;
  writeFileSync(join(dir, DATA_DIR_LOCK_FILE), text);
  return text;
}

/** A child process that takes the lock on `dir`; its first line says whether it holds it. */
function lockChild(t: TestContext, dir: string): { child: ChildProcess; firstLine: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], { cwd: PROJECT_ROOT, stdio: ["pipe", "pipe", "inherit"] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    void exited.then(() => reject(new Error(`child ${child.pid} exited before a line: ${out}`)));
  });
  return { child, firstLine, exited };
}

test("a second lock on a held data dir is refused (exit 2) naming the lock file, the holder's pid and command; the holder's file is untouched", (t) => {
  const dir = tempDir(t, "ns-lock-");
  const first = lockDataDir(dir, "coordinator");
  t.after(() => first.release());
  const file = join(dir, DATA_DIR_LOCK_FILE);
  const before = readFileSync(file, "utf8");
  const dirChanged = statSync(dir).mtimeMs;
  assert.throws(
    () => lockDataDir(dir, "coordinator"),
    (err: unknown) => {
      assert.ok(err instanceof DataDirLockedError && err instanceof BadInputError, "exit 2 through BadInputError");
      assert.match(err.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is held by pid ${process.pid} on `));
      assert.ok(err.message.includes(first.holder.command), err.message);
      assert.match(err.message, /stop that process first/);
      return true;
    },
  );
  assert.equal(readFileSync(file, "utf8"), before);
  assert.equal(statSync(dir).mtimeMs, dirChanged, "the refused process wrote nothing in the dir, not even for a moment");
  first.release();
  assert.equal(existsSync(file), false, "released");
  lockDataDir(dir, "coordinator").release();
});

test("a lock whose holder was SIGKILLed is taken over at once", async (t) => {
  const dir = tempDir(t, "ns-lock-");
  const holder = lockChild(t, dir);
  assert.equal(await holder.firstLine, "held fresh");
  holder.child.kill("SIGKILL");
  await holder.exited;
  const lock = lockDataDir(dir, "coordinator");
  t.after(() => lock.release());
  assert.equal(lock.staleHolder?.pid, holder.child.pid);
  assert.equal(lock.staleHolder?.role, "test-child");
  assert.deepEqual(readdirSync(dir), [DATA_DIR_LOCK_FILE]);
});

test("a child holding the lock lets go of it when it exits", async (t) => {
  const dir = tempDir(t, "ns-lock-");
  const holder = lockChild(t, dir);
  assert.equal(await holder.firstLine, "held fresh");
  assert.throws(() => lockDataDir(dir, "coordinator"), DataDirLockedError);
  holder.child.stdin?.end();
  assert.equal(await holder.exited, 0);
  assert.equal(existsSync(join(dir, DATA_DIR_LOCK_FILE)), false);
});

test("a pid now used by another process (its start time differs) is not the holder: taken over", (t) => {
  const dir = tempDir(t, "ns-lock-");
  writeLock(dir, { pid: process.pid, startTicks: "1" });
  const lock = lockDataDir(dir, "coordinator");
  t.after(() => lock.release());
  assert.equal(lock.staleHolder?.pid, process.pid);
});

test("a lock from before a reboot (another boot id) is taken over; one from another machine is not", (t) => {
  const dir = tempDir(t, "ns-lock-");
  const facts = localHostFacts();
  writeLock(dir, { bootId: "an-earlier-boot" });
  const lock = lockDataDir(dir, "coordinator", { facts: { ...facts, bootId: "this-boot" } });
  lock.release();
  assert.notEqual(lock.staleHolder, null);

  const text = writeLock(dir, { host: "render-07", pid: 4242 });
  assert.throws(() => lockDataDir(dir, "coordinator"), /held by pid 4242 on render-07 .*cannot be checked from here; if it no longer runs there, remove /);
  assert.equal(readFileSync(join(dir, DATA_DIR_LOCK_FILE), "utf8"), text);
});

test("an empty or damaged lock file (a power cut before its text reached the disk) is taken over", (t) => {
  const dir = tempDir(t, "ns-lock-");
  for (const text of ["", "{\"pid\":"]) {
    writeFileSync(join(dir, DATA_DIR_LOCK_FILE), text);
    const lock = lockDataDir(dir, "coordinator");
    assert.equal(JSON.parse(readFileSync(lock.file, "utf8")).token, lock.holder.token);
    lock.release();
  }
});

test("a take-over cut off by its taker's death is finished by the next; one by a running taker is not touched", (t) => {
  const dir = tempDir(t, "ns-lock-");
  const file = join(dir, DATA_DIR_LOCK_FILE);
  const stale = writeLock(dir, { pid: process.pid, startTicks: "1" });
  const claim = `${file}.takeover-${createHash("sha256").update(stale).digest("hex").slice(0, 16)}`;
  // A running taker's claim: this process is refused, naming it.
  writeFileSync(claim, JSON.stringify(thisProcess("coordinator", "live-taker", localHostFacts())));
  assert.throws(() => lockDataDir(dir, "coordinator"), /is being taken over by pid \d+/);
  assert.equal(readFileSync(file, "utf8"), stale);
  // A dead taker's claim: removed, then the stale lock.
  writeFileSync(claim, JSON.stringify({ ...thisProcess("coordinator", "dead-taker", localHostFacts()), startTicks: "2" }));
  const lock = lockDataDir(dir, "coordinator");
  t.after(() => lock.release());
  assert.deepEqual(readdirSync(dir), [DATA_DIR_LOCK_FILE]);
});

test("a stale lock replaced by a live one between this process's look and its take-over is left alone", (t) => {
  const dir = tempDir(t, "ns-lock-");
  const file = join(dir, DATA_DIR_LOCK_FILE);
  const facts = localHostFacts();
  const gonePid = 4_000_000;
  writeLock(dir, { pid: gonePid });
  const live = `${JSON.stringify(thisProcess("coordinator", "won-the-race", facts))}\n`;
  // While this process decides, after its link() failed, that the stale holder is dead, another takes the lock over
  // (the file now names a live holder). The first look, before this process writes anything, sees it as it was.
  let looks = 0;
  const racing: HostFacts = {
    ...facts,
    processStart(pid) {
      if (pid !== gonePid) return facts.processStart(pid);
      if (++looks === 2) writeFileSync(file, live);
      return { state: "gone" };
    },
  };
  assert.throws(() => lockDataDir(dir, "coordinator", { facts: racing }), new RegExp(`held by pid ${process.pid} `));
  assert.equal(looks, 2);
  assert.equal(readFileSync(file, "utf8"), live, "the winner's lock is not removed");
  assert.deepEqual(readdirSync(dir), [DATA_DIR_LOCK_FILE]);
});

test("processes started together on a stale lock: exactly one holds it, the others are refused naming a live process", async (t) => {
  const dir = tempDir(t, "ns-lock-");
  writeLock(dir, { pid: process.pid, startTicks: "1" });
  const children = Array.from({ length: 5 }, () => lockChild(t, dir));
  const lines = await Promise.all(children.map((c) => c.firstLine));
  t.diagnostic(lines.join(" | "));
  assert.equal(lines.filter((l) => l.startsWith("held")).length, 1, lines.join("\n"));
  for (const l of lines.filter((l) => !l.startsWith("held"))) assert.match(l, /^locked: data dir .* is (held by|being taken over by) pid \d+/);
  const winner = children[lines.findIndex((l) => l.startsWith("held"))] as (typeof children)[number];
  assert.equal(JSON.parse(readFileSync(join(dir, DATA_DIR_LOCK_FILE), "utf8")).pid, winner.child.pid);
  winner.child.stdin?.end();
  await Promise.all(children.map((c) => c.exited));
  assert.deepEqual(readdirSync(dir), [], "released, and no claim or private file left");
});

test("a lock's release leaves a lock file that is no longer its own", (t) => {
  const dir = tempDir(t, "ns-lock-");
  const lock = lockDataDir(dir, "agent");
  const other = writeLock(dir, {});
  lock.release();
  assert.equal(readFileSync(join(dir, DATA_DIR_LOCK_FILE), "utf8"), other);
});

test("the recorded command leaves out the values of secret-looking flags", () => {
  assert.equal(
    redactedCommand(["node", "nightshift", "agent", "--join-token", "abc", "--name", "n1", "--admin-key=xyz"]),
    "node nightshift agent --join-token *** --name n1 --admin-key=***",
  );
});
