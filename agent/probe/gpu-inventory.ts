import { availableParallelism, cpus, totalmem } from "node:os";
import { loadNvml } from "./nvml.ts";
import { queryGpus, type SmiCommand } from "./nvidia-smi.ts";

/**
 * What the agent advertises: its GPUs (via NVML, else nvidia-smi; none on a
 * CPU-only machine), host RAM and CPU count.
 */

export interface GpuInfo {
  index: number;
  name: string;
  uuid: string;
  vramBytes: number;
}

export interface HostInventory {
  gpus: GpuInfo[];
  gpuSource: "nvml" | "nvidia-smi" | "none";
  /** Why the GPU list is empty or came from a fallback; empty when NVML answered. */
  gpuNotes: string[];
  ramBytes: number;
  cpuCount: number;
  cpuModel: string;
}

export async function probeInventory(options: { nvmlLibraryPath?: string; smi?: SmiCommand } = {}): Promise<HostInventory> {
  const host = {
    ramBytes: totalmem(),
    cpuCount: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
  };
  const notes: string[] = [];
  const loaded = await loadNvml({ libraryPath: options.nvmlLibraryPath });
  if (loaded.ok) {
    try {
      const gpus: GpuInfo[] = [];
      for (let i = 0; i < loaded.nvml.deviceCount(); i += 1) {
        const d = loaded.nvml.device(i);
        gpus.push({ index: i, name: d.name() ?? "unknown", uuid: d.uuid() ?? "", vramBytes: d.memoryInfo()?.totalBytes ?? 0 });
      }
      return { ...host, gpus, gpuSource: "nvml", gpuNotes: notes };
    } catch (err) {
      notes.push(`nvml: ${(err as Error).message}`);
    } finally {
      loaded.nvml.shutdown();
    }
  } else {
    notes.push(`nvml: ${loaded.reason}`);
  }
  const smi = await queryGpus(options.smi);
  if (smi.ok) {
    const gpus = smi.value.map((g) => ({ index: g.index, name: g.name, uuid: g.uuid, vramBytes: g.memoryTotalBytes ?? 0 }));
    return { ...host, gpus, gpuSource: "nvidia-smi", gpuNotes: notes };
  }
  notes.push(`nvidia-smi: ${smi.reason}`);
  return { ...host, gpus: [], gpuSource: "none", gpuNotes: notes };
}
