import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { wrappingCounterDelta } from "../../shared/accounting/counter-delta.ts";

/**
 * CPU package energy from Linux powercap RAPL counters:
 * <root>/intel-rapl:N/{name,energy_uj,max_energy_range_uj}. Only top-level
 * package domains (name "package-N") are read: sub-domains (intel-rapl:N:M,
 * core/uncore/dram) are inside the package figure, and "psys" covers the
 * whole platform, so adding either would count energy twice. AMD Zen exposes
 * its package counters through the same interface.
 *
 * Since the PLATYPUS fix (CVE-2020-8694; Linux 5.10 and stable backports)
 * energy_uj is readable by root only; unreadable counters make RAPL
 * unavailable, with the reason.
 */

export const DEFAULT_POWERCAP_ROOT = "/sys/class/powercap";

export interface RaplDomain {
  /** Directory name, e.g. "intel-rapl:0". */
  id: string;
  /** Contents of `name`, e.g. "package-0". */
  name: string;
  dir: string;
  maxEnergyRangeUj: number;
}

export interface RaplReading {
  id: string;
  energyUj: number;
}

export type RaplProbe = { ok: true; domains: RaplDomain[] } | { ok: false; reason: string };

/** Read synchronously: a sysfs counter is a few bytes from the kernel, read at every meter step (10 a second). */
async function readNumber(path: string): Promise<number> {
  const n = Number(readFileSync(path, "utf8").trim());
  if (!Number.isFinite(n) || n < 0) throw new Error(`${path}: not a counter value`);
  return n;
}

/** Why a powercap path could not be read, in words (EACCES/EPERM name the root-only rule). */
export function raplReadFailure(err: unknown, path: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM") {
    return `${path} is not readable by this user (root only since Linux 5.10, CVE-2020-8694)`;
  }
  if (code === "ENOENT") return `${path} does not exist`;
  return `${path}: ${(err as Error).message}`;
}

/** Finds the package domains and checks that their counters can be read. */
export async function probeRapl(root = DEFAULT_POWERCAP_ROOT): Promise<RaplProbe> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (err) {
    return { ok: false, reason: `no powercap interface: ${raplReadFailure(err, root)}` };
  }
  const domains: RaplDomain[] = [];
  for (const id of entries.filter((e) => /^intel-rapl:\d+$/.test(e)).sort()) {
    const dir = join(root, id);
    try {
      const name = (await readFile(join(dir, "name"), "utf8")).trim();
      if (!name.startsWith("package")) continue;
      const maxEnergyRangeUj = await readNumber(join(dir, "max_energy_range_uj"));
      await readNumber(join(dir, "energy_uj"));
      domains.push({ id, name, dir, maxEnergyRangeUj });
    } catch (err) {
      return { ok: false, reason: `RAPL ${id}: ${raplReadFailure(err, dir)}` };
    }
  }
  if (domains.length === 0) return { ok: false, reason: `no RAPL package domain under ${root}` };
  return { ok: true, domains };
}

export async function readRapl(domains: readonly RaplDomain[]): Promise<RaplReading[]> {
  return Promise.all(domains.map(async (d) => ({ id: d.id, energyUj: await readNumber(join(d.dir, "energy_uj")) })));
}

/** Joules between two readings of the same domains, each domain's wrap handled on its own. */
export function raplDeltaJoules(
  domains: readonly RaplDomain[],
  before: readonly RaplReading[],
  after: readonly RaplReading[],
): number {
  let uj = 0;
  for (const d of domains) {
    const a = before.find((r) => r.id === d.id);
    const b = after.find((r) => r.id === d.id);
    if (a === undefined || b === undefined) throw new Error(`RAPL ${d.id}: missing reading`);
    uj += wrappingCounterDelta(a.energyUj, b.energyUj, d.maxEnergyRangeUj);
  }
  return uj / 1e6;
}
