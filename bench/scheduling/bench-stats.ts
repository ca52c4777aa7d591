import { rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";


/** Mean time of one SQLite commit (WAL, synchronous=FULL, like the store) in `dir`: what each claim and commit pays for durability. */
export function measureCommitMs(dir: string, commits = 100): number {
  const path = join(dir, "commit-probe.sqlite");
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    const ins = db.prepare("INSERT INTO t (v) VALUES (?)");
    const t0 = performance.now();
    for (let i = 0; i < commits; i++) ins.run(String(i));
    return (performance.now() - t0) / commits;
  } finally {
    db.close();
    for (const f of ["", "-wal", "-shm"]) rmSync(path + f, { force: true });
  }
}
