import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AgentKindsConfigSchema } from "../../agent/config/agent-kinds-config.ts";
import { defer } from "../helpers/defer.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { startTestCoordinator } from "../support/farm.ts";
import { runCli } from "../support/run-cli.ts";
import type { AgentListItem } from "../../cli/format/agents-listing.ts";
import { ComfyStandin } from "../support/comfyui-standin/standin-server.ts";
import { txt2img } from "../support/comfyui-standin/workflows.ts";
import { sentWorkflowFile } from "../support/comfyui-standin/sent-workflow.ts";

/**
 * ComfyUI's devices in placement and in `nightshift agents`: two agents, each
 * with a ComfyUI stand-in reporting a different card in /system_stats (8 and
 * 24 GiB). A comfyui step with `minVram: 16GiB` runs only on the large card;
 * one asking for more than any card has waits and says which agent is how
 * much short; `nightshift agents --json` lists each ComfyUI's version and
 * devices; a bad minVram is refused by the CLI with exit 2, naming the field.
 */

const GiB = 2 ** 30;
const card = (name: string, gib: number) => ({ name: `cuda:0 ${name} : cudaMallocAsync`, type: "cuda", vram_total: gib * GiB, vram_free: gib * GiB - 512 * 2 ** 20 });

function vramJob(name: string, minVram: string, frames: number, workflow: unknown = "wf.api.json"): Record<string, unknown> {
  return {
    name,
    steps: [{ id: "gen", kind: "comfyui", workflow, bind: { seed: { node: "3", input: "seed" } }, minVram }],
    frames: { start: 0, end: frames - 1 },
    chunking: { mode: "fixed", size: 1 },
  };
}

test("a comfyui step's minVram places it only on a ComfyUI with a card that large; nightshift agents lists each ComfyUI's devices", async (t) => {
  const dir = tempDir(t, "nightshift-comfy-vram-");
  const small = await ComfyStandin.start({ devices: [card("Standin RTX 3070", 8)] });
  const large = await ComfyStandin.start({ devices: [card("Standin RTX 4090", 24)] });
  for (const s of [small, large]) defer(t, () => s.close());
  const c = await startTestCoordinator(t, dir);
  await startLocalAgent(t, c, dir, "comfy-8g", { kinds: AgentKindsConfigSchema.parse({ comfyui: { url: small.url } }) });
  await startLocalAgent(t, c, dir, "comfy-24g", { kinds: AgentKindsConfigSchema.parse({ comfyui: { url: large.url } }) });
  writeFileSync(join(dir, "wf.api.json"), JSON.stringify(txt2img({ width: 16, height: 16, steps: 1 })));

  const tooBig = (await c.api.submit(JSON.stringify(vramJob("needs 32 GiB", "32GiB", 1, sentWorkflowFile(dir, "wf.api.json"))), dir)).jobId;
  const fits = (await c.api.submit(JSON.stringify(vramJob("needs 16 GiB", "16GiB", 6, sentWorkflowFile(dir, "wf.api.json"))), dir)).jobId;
  const done = await c.finisher.waitFor(fits);
  assert.equal(done.state, "done", done.message ?? "");
  const byAgent = new Set(c.store.ledger.listByJob(fits).map((e) => c.store.agents.get(e.agentId)?.name));
  assert.deepEqual([...byAgent], ["comfy-24g"], "only the 24 GiB ComfyUI ran the 16 GiB step");
  assert.equal(small.historyIds().length, 0, "the 8 GiB ComfyUI got no prompt");

  let held = c.api.job(tooBig);
  for (let i = 0; i < 200 && !held.message.includes("short"); i++) {
    await new Promise((r) => setTimeout(r, 50));
    held = c.api.job(tooBig);
  }
  assert.equal(held.framesDone, 0);
  assert.match(held.message, /comfy-8g has comfyui on cuda:0 Standin RTX 3070 : cudaMallocAsync with 8\.0 GiB VRAM, needs 32\.0 GiB: 24\.0 GiB short \(step gen\)/);
  assert.match(held.message, /comfy-24g has comfyui on cuda:0 Standin RTX 4090 : cudaMallocAsync with 24\.0 GiB VRAM, needs 32\.0 GiB: 8\.0 GiB short \(step gen\)/);

  const listed = await runCli(["agents", "--json", "--coordinator", c.address, "--data-dir", join(dir, "data")]);
  assert.equal(listed.status, 0, listed.stderr);
  const agents = JSON.parse(listed.stdout) as AgentListItem[];
  const comfyOf = (name: string) => agents.find((a) => a.name === name)?.kinds.find((k) => k.kind === "comfyui");
  const nodeClasses = comfyOf("comfy-8g")?.featureCount ?? 0;
  assert.ok(nodeClasses >= 9, `the node class count is listed (${nodeClasses})`);
  assert.deepEqual(comfyOf("comfy-8g"), {
    kind: "comfyui", version: "0.3.47", featureCount: nodeClasses, down: false,
    devices: [{ name: "cuda:0 Standin RTX 3070 : cudaMallocAsync", type: "cuda", vramTotal: 8 * GiB, vramFree: 8 * GiB - 512 * 2 ** 20 }],
  });
  assert.deepEqual(comfyOf("comfy-24g")?.devices.map((d) => [d.name, d.vramTotal]), [["cuda:0 Standin RTX 4090 : cudaMallocAsync", 24 * GiB]]);

  // Bad input: the CLI refuses it before any coordinator is asked, naming the field.
  writeFileSync(join(dir, "bad.yaml"), JSON.stringify(vramJob("bad", "16G", 1)));
  const refused = await runCli(["submit", join(dir, "bad.yaml"), "--coordinator", "127.0.0.1:1"]);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /steps\[0\]\.minVram: '16G' is not a size/);
});
