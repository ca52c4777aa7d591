import assert from "node:assert/strict";
import { test } from "node:test";
import { wireAgent } from "../../coordinator/grpc/control-handler.ts";
import type { AgentRow } from "../../coordinator/store/agents-table.ts";
import { NO_AGENT_LIVE } from "../../coordinator/telemetry/agent-live-view.ts";
import { AgentView } from "../../proto/gen/nightshift/v1/control.ts";
import { agentListItems, agentsText } from "../../cli/format/agents-listing.ts";

const GiB = 2 ** 30;
const row = (o: Partial<AgentRow>): AgentRow => ({
  id: "agt-1", name: "gpu-4090", state: "online", version: "0.1.0", gpus: [{ name: "NVIDIA GeForce RTX 4090", vramBytes: 24 * GiB }],
  ramBytes: 64 * GiB, cpuCount: 16, tags: [], kinds: [], address: "127.0.0.1", firstSeen: 0, lastSeen: 1_700_000_000_000, ...o,
});
const comfyui = {
  kind: "comfyui", version: "0.3.47", features: ["KSampler", "SaveImage", "VAEDecode"],
  devices: [{ name: "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", type: "cuda", vramTotal: 25757220864, vramFree: 24696061952 }],
};

/** Through the wire: the handler's view, encoded and decoded as the CLI receives it. */
const overWire = (a: AgentRow, downKinds: string[] = []) =>
  AgentView.decode(AgentView.encode(wireAgent(a, [], { ...NO_AGENT_LIVE, status: "idle", downKinds }, { keyFingerprint: "", nameVerified: true })).finish());

test("nightshift agents --json lists each agent's ComfyUI: version, node class count, every device with its VRAM total and free", () => {
  const [item] = agentListItems([overWire(row({ kinds: [{ kind: "model", version: "1.30.0", features: [] }, comfyui] }))]);
  assert.deepEqual(item?.kinds, [
    { kind: "model", version: "1.30.0", featureCount: 0, down: false, devices: [] },
    { kind: "comfyui", version: "0.3.47", featureCount: 3, down: false, devices: [{ name: "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", type: "cuda", vramTotal: 25757220864, vramFree: 24696061952 }] },
  ]);
});

test("nightshift agents shows the kinds in the table and one line per ComfyUI device; a ComfyUI that stopped answering is marked down", () => {
  const twoCards = { ...comfyui, devices: [...comfyui.devices, { name: "cuda:1 NVIDIA GeForce RTX 3060 : cudaMallocAsync", type: "cuda", vramTotal: 12 * GiB, vramFree: 3 * GiB }] };
  const text = agentsText(agentListItems([
    overWire(row({ kinds: [comfyui] })),
    overWire(row({ id: "agt-2", name: "gpu-duo", kinds: [{ kind: "model", version: "1.30.0", features: [] }, twoCards] }), ["comfyui"]),
    overWire(row({ id: "agt-3", name: "cpu-box", gpus: [], kinds: [{ kind: "model", version: "1.30.0", features: [] }] })),
  ]));
  const lines = text.trimEnd().split("\n");
  assert.match(lines[0] ?? "", /\bkinds\b/);
  assert.match(lines[1] ?? "", /gpu-4090 .* comfyui 0\.3\.47 /);
  assert.match(lines[2] ?? "", /gpu-duo .* model 1\.30\.0, comfyui 0\.3\.47 \(down\) /);
  assert.doesNotMatch(lines[3] ?? "", /comfyui/);
  assert.deepEqual(lines.slice(4), [
    "gpu-4090: comfyui 0.3.47 on cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync (cuda): 24.0 GiB VRAM, 23.0 GiB free when it joined",
    "gpu-duo: comfyui 0.3.47 on cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync (cuda): 24.0 GiB VRAM, 23.0 GiB free when it joined",
    "gpu-duo: comfyui 0.3.47 on cuda:1 NVIDIA GeForce RTX 3060 : cudaMallocAsync (cuda): 12.0 GiB VRAM, 3.0 GiB free when it joined",
  ]);
});

test("a kind is down only for an online agent whose heartbeat says so", () => {
  assert.equal(overWire(row({ kinds: [comfyui] }), ["comfyui"]).kinds[0]?.down, true);
  assert.equal(overWire(row({ kinds: [comfyui], state: "offline" }), ["comfyui"]).kinds[0]?.down, false);
  assert.equal(overWire(row({ kinds: [comfyui] }), ["blender"]).kinds[0]?.down, false);
});
