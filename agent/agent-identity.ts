import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The id an agent keeps across restarts, so it rejoins as itself. */
export function loadAgentId(dataDir: string): string {
  const p = join(dataDir, "agent.json");
  if (!existsSync(p)) return "";
  const parsed = JSON.parse(readFileSync(p, "utf8")) as { agentId?: unknown };
  return typeof parsed.agentId === "string" ? parsed.agentId : "";
}

export function saveAgentId(dataDir: string, agentId: string): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, "agent.json"), JSON.stringify({ agentId }, null, 2) + "\n", { mode: 0o600 });
}
