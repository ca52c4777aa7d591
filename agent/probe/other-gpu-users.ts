/**
 * Is someone other than this agent holding GPU memory? Pure. Used to stop
 * taking chunks while a person (or another job) works on the card.
 *
 * Caveat: NVML and nvidia-smi report host pids. An agent inside a container
 * with its own pid namespace sees different pids for itself; pass the host
 * pids (or run with the host pid namespace) or every process looks foreign.
 */

export interface GpuProcessEntry {
  pid: number;
  /** Null when the driver cannot say (counts as holding memory). */
  usedBytes: number | null;
  /** Which GPU; optional when only one is watched. */
  gpuUuid?: string;
}

export interface OtherGpuUsers {
  busy: boolean;
  others: GpuProcessEntry[];
  /** Sum of the known amounts held by others. */
  othersBytes: number;
}

export interface OtherGpuUsersOptions {
  /** Only these GPUs count (the ones this agent uses); all when omitted. */
  gpuUuids?: readonly string[];
  /** Ignore others holding less than this (e.g. a monitoring tool's context). Default 0. */
  minBytes?: number;
}

export function otherGpuUsers(
  processes: readonly GpuProcessEntry[],
  ownPids: readonly number[],
  options: OtherGpuUsersOptions = {},
): OtherGpuUsers {
  const minBytes = options.minBytes ?? 0;
  const others = processes.filter(
    (p) =>
      !ownPids.includes(p.pid) &&
      (options.gpuUuids === undefined || p.gpuUuid === undefined || options.gpuUuids.includes(p.gpuUuid)) &&
      (p.usedBytes === null || p.usedBytes >= minBytes),
  );
  return {
    busy: others.length > 0,
    others,
    othersBytes: others.reduce((s, p) => s + (p.usedBytes ?? 0), 0),
  };
}
