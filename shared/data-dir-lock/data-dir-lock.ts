import { createHash, randomUUID } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { BadInputError } from "../errors.ts";
import { holderLiveness, localHostFacts, parseHolder, thisProcess, type HolderLiveness, type HostFacts, type LockHolder } from "./lock-holder.ts";

/**
 * One coordinator (or agent) per data dir. Without it a second coordinator started by mistake on a running one's
 * dir took the running one's nats-server for an orphan and ended it; two agents on one dir share a key and an
 * identity. The lock is taken before anything in the dir is read or written, and let go at a clean stop.
 *
 * How: the holder's facts (lock-holder.ts) are written to a private file, which is then hard-linked to
 * `<dir>/nightshift.lock`: link() is atomic and fails if the name exists, on a local disk as on NFS, and the lock
 * file is never seen half-written. A lock whose holder has died (kill -9, a power cut) is removed by the one process
 * that first claims it, by linking its own file to `<lock>.takeover-<hash of the dead lock's text>`, and only if the
 * lock still holds that text; the claim is then removed. A claim left by a taker that died in its middle is removed
 * the same way, one level down. So two processes starting at once on a stale lock never both hold it.
 */
export const DATA_DIR_LOCK_FILE = "nightshift.lock";

/** A second process on a locked data dir: exit 2, naming the lock file and its holder. Nothing in the dir touched. */
export class DataDirLockedError extends BadInputError {
  override readonly name = "DataDirLockedError";
  constructor(
    message: string,
    readonly lockFile: string,
    readonly holder: LockHolder | null,
  ) {
    super(message, { field: "dataDir" });
  }
}

export interface DataDirLock {
  readonly file: string;
  readonly holder: LockHolder;
  /** The dead holder whose lock was found and taken over, if any (for the log). */
  readonly staleHolder: LockHolder | null;
  /** Removes the lock file if it is still this one; safe to call twice. Also runs at process exit. */
  release(): void;
}

const MAX_ROUNDS = 8;
/** Claims left by takers killed inside a take-over, removed in a row before asking for a person. */
const MAX_CUT_TAKEOVERS = 3;

function readText(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw err;
  }
}

/**
 * Links `src` (whose text is `text`) to `dst`: false when `dst` holds something else. An EEXIST on a file already
 * holding our text is ours (NFS answers a retransmitted link() that had succeeded with EEXIST).
 */
function tryLink(src: string, dst: string, text: string): boolean {
  try {
    linkSync(src, dst);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return readText(dst) === text;
  }
}

function describe(holder: LockHolder): string {
  return `pid ${holder.pid} on ${holder.host} (${holder.role}: ${holder.command}) since ${holder.since}`;
}

function lockedError(dir: string, file: string, holder: LockHolder, liveness: HolderLiveness, doing: string): DataDirLockedError {
  const what = `data dir ${dir} is in use: ${file} is ${doing} ${describe(holder)}`;
  const advice =
    liveness === "elsewhere"
      ? `a process on another machine cannot be checked from here; if it no longer runs there, remove ${file}`
      : `stop that process first, or give this one another --data-dir`;
  return new DataDirLockedError(`${what}; ${advice}`, file, holder);
}

/**
 * Takes `<dir>/nightshift.lock` for this process, or throws DataDirLockedError naming the holder. A lock left by a
 * dead process is taken over. `facts` is injected by tests; by default this machine's.
 */
export function lockDataDir(dir: string, role: string, opts: { facts?: HostFacts } = {}): DataDirLock {
  const facts = opts.facts ?? localHostFacts();
  const root = resolve(dir);
  const file = join(root, DATA_DIR_LOCK_FILE);
  const me = thisProcess(role, randomUUID(), facts);
  const text = `${JSON.stringify(me)}\n`;
  const mine = `${file}.${me.token}.new`;
  // A live holder is named before this process writes anything in the dir.
  const first = readText(file);
  if (first !== null) deadHolderOf(root, file, first, facts);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(mine, text, { flag: "wx", mode: 0o600 });
  } catch (err) {
    throw new BadInputError(`${file}: cannot write the data dir's lock (${(err as Error).message})`, { field: "dataDir", cause: err });
  }
  let staleHolder: LockHolder | null = null;
  try {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (tryLink(mine, file, text)) return held(file, me, text, staleHolder);
      const seen = readText(file);
      if (seen === null) continue; // let go just now
      staleHolder = deadHolderOf(root, file, seen, facts);
      removeIfUnchanged(root, file, seen, { mine, text, facts }, 0);
    }
    throw new DataDirLockedError(`data dir ${root} is in use: ${file} was taken by another process each of ${MAX_ROUNDS} times this one tried`, file, null);
  } finally {
    rmSync(mine, { force: true });
  }
}

/** The holder named by a lock file's text when it is dead (null: no holder recorded); throws when it runs or cannot be checked. */
function deadHolderOf(root: string, file: string, text: string, facts: HostFacts): LockHolder | null {
  const holder = parseHolder(text);
  if (holder === null) return null;
  const liveness = holderLiveness(holder, facts);
  if (liveness !== "dead") throw lockedError(root, file, holder, liveness, "held by");
  return holder;
}

/**
 * Removes `file` if it still holds `seen` (a dead holder's text), as the only process doing so: the one whose own file
 * is linked first to the claim named by `seen`. While that claim exists nobody else removes `file`, and a dead holder
 * never lets go of it, so `file` cannot change between the check and the unlink.
 */
function removeIfUnchanged(root: string, file: string, seen: string, self: { mine: string; text: string; facts: HostFacts }, depth: number): void {
  const lock = join(root, DATA_DIR_LOCK_FILE);
  if (depth > MAX_CUT_TAKEOVERS) {
    throw new DataDirLockedError(
      `data dir ${root}: take-overs of its stale lock were cut off ${depth} times in a row; make sure no nightshift process uses it, then remove ${lock} and ${lock}.takeover-*`,
      lock,
      null,
    );
  }
  const claim = `${file}.takeover-${createHash("sha256").update(seen).digest("hex").slice(0, 16)}`;
  if (!tryLink(self.mine, claim, self.text)) {
    const claimText = readText(claim);
    if (claimText === null) return; // that take-over has ended: look again
    const taker = parseHolder(claimText);
    const liveness = taker === null ? "dead" : holderLiveness(taker, self.facts);
    if (liveness !== "dead") throw lockedError(root, lock, taker as LockHolder, liveness, "being taken over by");
    removeIfUnchanged(root, claim, claimText, self, depth + 1);
    return;
  }
  try {
    if (readText(file) === seen) unlinkSync(file);
  } finally {
    rmSync(claim, { force: true });
  }
}

function held(file: string, holder: LockHolder, text: string, staleHolder: LockHolder | null): DataDirLock {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off("exit", release);
    try {
      if (readText(file) === text) unlinkSync(file);
    } catch {
      // the dir is gone or unreadable: nothing of ours to remove
    }
  };
  // A process that exits without its clean stop (a second Ctrl-C) lets go too; a killed one is found dead by the next.
  process.on("exit", release);
  return { file, holder, staleHolder, release };
}
