import { readdirSync, readFileSync } from "node:fs";

/**
 * Reads Linux's /proc to see which processes a test left behind: by a
 * string in their command line (a render's unique work folder), or by
 * process group (everything a killed Blender might have started).
 */

function pids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null; // gone between listing and reading
  }
}

/** Live processes whose command line contains `needle`. */
export function processesWithArg(needle: string): number[] {
  return pids().filter((pid) => read(`/proc/${pid}/cmdline`)?.split("\0").some((arg) => arg.includes(needle)) === true);
}

/** Processes (zombies included) whose process group is `pgid`. */
export function processGroupMembers(pgid: number): number[] {
  return pids().filter((pid) => {
    const stat = read(`/proc/${pid}/stat`);
    if (stat === null) return false;
    // pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[2]) === pgid;
  });
}
