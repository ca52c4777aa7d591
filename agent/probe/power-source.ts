import type { EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import { MissingDependencyError } from "../../shared/errors.ts";
import { silentLogger, type Logger } from "../../shared/log.ts";
import { createEstimateSource } from "./estimate-source.ts";
import type { EstimateConfig } from "./estimate.ts";
import { loadNvml } from "./nvml.ts";
import { createNvmlSource } from "./nvml-source.ts";
import type { SmiCommand } from "./nvidia-smi.ts";
import type { PowerSource } from "./power-source-types.ts";
import { createRaplSource } from "./rapl-source.ts";
import { createSmiSource } from "./smi-source.ts";

/**
 * Picks the best power source present, in order nvml > nvidia-smi > rapl >
 * estimate, and says why each better one was skipped. The estimate always
 * works, so an agent always has a source; its figures are labelled as such.
 */

export interface ChoosePowerSourceOptions {
  /** Use this source and no other (fails if it is not available). */
  only?: EnergySource;
  gpuIndices?: readonly number[];
  ownPids?: readonly number[];
  nvmlLibraryPath?: string;
  smi?: SmiCommand & { intervalMs?: number };
  raplRoot?: string;
  /** Figures for the estimate; DEFAULT_CPU_ESTIMATE (a guess) when omitted. */
  estimate?: EstimateConfig;
  procStatPath?: string;
  log?: Logger;
  now?: () => number;
}

export interface SkippedSource {
  kind: EnergySource;
  reason: string;
}

export interface PowerSourceChoice {
  source: PowerSource;
  skipped: SkippedSource[];
}

type Attempt = { ok: true; source: PowerSource } | { ok: false; reason: string };

async function tryNvml(o: ChoosePowerSourceOptions): Promise<Attempt> {
  const loaded = await loadNvml({ libraryPath: o.nvmlLibraryPath });
  if (!loaded.ok) return loaded;
  try {
    const r = createNvmlSource(loaded.nvml, { gpuIndices: o.gpuIndices, ownPids: o.ownPids, now: o.now });
    if (!r.ok) loaded.nvml.shutdown();
    return r;
  } catch (err) {
    loaded.nvml.shutdown();
    return { ok: false, reason: (err as Error).message };
  }
}

const ATTEMPTS: Record<EnergySource, (o: ChoosePowerSourceOptions) => Promise<Attempt>> = {
  nvml: tryNvml,
  "nvidia-smi": (o) => createSmiSource({ ...o.smi, gpuIndices: o.gpuIndices, ownPids: o.ownPids, now: o.now, log: o.log }),
  rapl: (o) => createRaplSource({ root: o.raplRoot, now: o.now }),
  estimate: async (o) => ({
    ok: true,
    source: await createEstimateSource({ config: o.estimate, procStatPath: o.procStatPath, now: o.now }),
  }),
};

export const SOURCE_ORDER: readonly EnergySource[] = ["nvml", "nvidia-smi", "rapl", "estimate"];

export async function choosePowerSource(options: ChoosePowerSourceOptions = {}): Promise<PowerSourceChoice> {
  const log = options.log ?? silentLogger();
  const skipped: SkippedSource[] = [];
  for (const kind of SOURCE_ORDER) {
    if (options.only !== undefined && options.only !== kind) {
      skipped.push({ kind, reason: `power source set to ${options.only} in config` });
      continue;
    }
    let attempt: Attempt;
    try {
      attempt = await ATTEMPTS[kind](options);
    } catch (err) {
      attempt = { ok: false, reason: (err as Error).message };
    }
    if (attempt.ok) {
      log.info({ source: kind, description: attempt.source.description, skipped }, "power source chosen");
      return { source: attempt.source, skipped };
    }
    skipped.push({ kind, reason: attempt.reason });
  }
  const forced = skipped.find((s) => s.kind === options.only);
  throw new MissingDependencyError(
    `power source ${options.only} is not available: ${forced?.reason ?? "unknown"}`,
    "install the NVIDIA driver (nvml, nvidia-smi), run as root (rapl), or remove the power source setting to fall back to an estimate",
  );
}
