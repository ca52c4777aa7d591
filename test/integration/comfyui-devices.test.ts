import assert from "node:assert/strict";
import { test } from "node:test";
import { AgentKindsConfigSchema } from "../../agent/config/agent-kinds-config.ts";
import { kindDevices } from "../../agent/executors/comfyui/comfyui-factory.ts";
import { SystemStatsSchema } from "../../agent/executors/comfyui/comfy-messages.ts";
import { defer } from "../helpers/defer.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { startTestCoordinator } from "../support/farm.ts";
import { ComfyStandin } from "../support/comfyui-standin/standin-server.ts";

/**
 * The devices ComfyUI's /system_stats reports (vram_total / vram_free per
 * device) travel with the agent's comfyui capability when it joins and are
 * kept in the coordinator's agents table, where placement and the listings
 * read them.
 */

const DEVICES = [
  { name: "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", type: "cuda", vram_total: 25_393_692_672, vram_free: 23_911_000_064 },
  { name: "cuda:1 NVIDIA GeForce RTX 3060 : cudaMallocAsync", type: "cuda", vram_total: 12_884_901_888, vram_free: 1_073_741_824 },
];

test("an agent advertises its ComfyUI's devices and their VRAM; the coordinator keeps them with the comfyui capability", async (t) => {
  const dir = tempDir(t, "nightshift-comfy-devices-");
  const standin = await ComfyStandin.start({ devices: DEVICES });
  defer(t, () => standin.close());
  const c = await startTestCoordinator(t, dir);
  const agent = await startLocalAgent(t, c, dir, "comfy-vram", { kinds: AgentKindsConfigSchema.parse({ comfyui: { url: standin.url } }) });
  const row = c.store.agents.get(agent.agentId);
  const comfy = row?.kinds.find((k) => k.kind === "comfyui");
  assert.ok(comfy, "the comfyui capability is stored");
  assert.deepEqual(comfy.devices, DEVICES.map((d) => ({ name: d.name, type: d.type, vramTotal: d.vram_total, vramFree: d.vram_free })));
  // Kinds whose tool reports no devices carry none.
  assert.equal(row?.kinds.find((k) => k.kind === "model")?.devices, undefined);
});

test("devices from /system_stats are read as bytes: fractions floored, negative or missing memory is 0, long names cut", () => {
  const stats = SystemStatsSchema.parse({
    system: { comfyui_version: "0.3.47" },
    devices: [{ name: "x".repeat(300), type: "cuda", vram_total: 1024.7, vram_free: -5 }, { name: "cpu", type: "cpu" }],
  });
  const got = kindDevices(stats);
  assert.deepEqual(got[0], { name: "x".repeat(200), type: "cuda", vramTotal: 1024, vramFree: 0 });
  assert.deepEqual(got[1], { name: "cpu", type: "cpu", vramTotal: 0, vramFree: 0 });
});
