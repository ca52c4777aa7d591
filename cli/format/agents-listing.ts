import type { AgentView } from "../../proto/gen/nightshift/v1/control.ts";
import { formatBytes, table } from "./format.ts";

/**
 * What `nightshift agents` prints: the control API's agent views as the
 * listing's JSON (`--json`) and as text (a table, then notes: why an agent
 * pauses, the devices each tool runs on, pending keys to compare). Pure, so
 * a test reaches both without a coordinator or a terminal.
 */

export interface AgentListItem {
  id: string;
  name: string;
  state: string;
  gpus: Array<{ name: string; vramBytes: number }>;
  lastSeen: string;
  version: string;
  blocklistedJobs: string[];
  status: string;
  note: string;
  powerWatts: number | null;
  energySource: string;
  keyFingerprint: string;
  nameVerified: boolean;
  /** Per step kind, as advertised at join: the tool's version, its feature count, its devices (ComfyUI's /system_stats), and whether it is down now. */
  kinds: Array<{ kind: string; version: string; featureCount: number; down: boolean; devices: Array<{ name: string; type: string; vramTotal: number; vramFree: number }> }>;
}

export function agentListItems(agents: readonly AgentView[]): AgentListItem[] {
  return agents.map((a) => ({
    id: a.id,
    name: a.name,
    state: a.state,
    gpus: a.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes })),
    lastSeen: new Date(a.lastSeenMs).toISOString(),
    version: a.version,
    blocklistedJobs: a.blocklistedJobs,
    status: a.status,
    note: a.note,
    powerWatts: a.powerWatts ?? null,
    energySource: a.energySource,
    keyFingerprint: a.keyFingerprint,
    nameVerified: a.nameVerified,
    kinds: a.kinds.map((k) => ({
      kind: k.kind,
      version: k.version,
      featureCount: k.featureCount,
      down: k.down,
      devices: k.devices.map((d) => ({ name: d.name, type: d.type, vramTotal: d.vramTotal, vramFree: d.vramFree })),
    })),
  }));
}

export function agentsText(list: readonly AgentListItem[]): string {
  const lines = [
    table(
      ["id", "name", "state", "status", "power", "gpus", "kinds", "last seen", "blocklisted for"],
      list.map((a) => [
        a.id,
        shownName(a),
        a.state,
        a.status,
        formatPower(a.powerWatts, a.energySource),
        a.gpus.map((g) => `${g.name} ${formatBytes(g.vramBytes)}`).join(", ") || "cpu",
        a.kinds.map((k) => [k.kind, k.version, k.down ? "(down)" : ""].filter((x) => x !== "").join(" ")).join(", "),
        a.lastSeen,
        a.blocklistedJobs.join(", "),
      ]),
    ),
  ];
  for (const a of list) if (a.note) lines.push(`${a.name}: ${a.note}`);
  for (const a of list) for (const k of a.kinds) for (const d of k.devices) lines.push(`${a.name}: ${k.kind} ${k.version} on ${d.name} (${d.type}): ${formatBytes(d.vramTotal)} VRAM, ${formatBytes(d.vramFree)} free when it joined`);
  for (const a of list) {
    if (a.state === "pending") lines.push(`${a.id}: key sha256 ${a.keyFingerprint}; compare with the agent's log, then: nightshift agents approve ${a.id}`);
  }
  return lines.join("\n") + "\n";
}

/** A name nobody vouched for yet (pending, discovered) is the agent's own claim: shown quoted and marked. */
function shownName(a: { name: string; nameVerified: boolean; state: string }): string {
  return a.nameVerified || a.state === "removed" ? a.name : `"${a.name.slice(0, 40)}" (unverified)`;
}

/** "212 W nvml"; estimates say so; "" when unknown. */
function formatPower(watts: number | null, source: string): string {
  return watts === null ? "" : `${watts.toFixed(0)} W ${source}`;
}
