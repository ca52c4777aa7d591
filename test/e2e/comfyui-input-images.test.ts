import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AgentKindsConfigSchema } from "../../agent/config/agent-kinds-config.ts";
import { jobAssetHashes } from "../../coordinator/assets/asset-references.ts";
import type { JobRow } from "../../coordinator/store/jobs-table.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import { defer } from "../helpers/defer.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { ComfyStandin } from "../support/comfyui-standin/standin-server.ts";
import { img2img } from "../support/comfyui-standin/workflows.ts";
import { startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { runCli } from "../support/run-cli.ts";

// A ComfyUI workflow whose LoadImage names a reference image that exists only in the artist's folder. The CLI
// uploads it to the coordinator's asset store at submit; an agent whose ComfyUI input folder is empty (and whose
// cache is empty) fetches it, uploads it to its ComfyUI under its sha256, and the prompt names that file.

const FRAMES = 2;

test("a reference image only the artist has reaches an agent's empty ComfyUI through the asset store", async (t) => {
  const dir = tempDir(t, "ns-e2e-comfy-img-");
  const artist = join(dir, "artist");
  mkdirSync(join(artist, "workflows"), { recursive: true });
  const workflow = img2img({ steps: 2 });
  workflow["10"]!.inputs.image = "reference.png";
  writeFileSync(join(artist, "workflows", "ref.api.json"), JSON.stringify(workflow));
  const reference = Buffer.from(encodePng({ width: 12, height: 8, data: new Uint8Array(12 * 8 * 3).map((_, i) => (i * 7) & 0xff) }));
  writeFileSync(join(artist, "workflows", "reference.png"), reference);
  const refSha = createHash("sha256").update(reference).digest("hex");
  const jobFile = join(artist, "job.json");
  writeFileSync(
    jobFile,
    JSON.stringify({
      name: "hero with reference",
      seed: 40,
      frames: { start: 0, end: FRAMES - 1 },
      steps: [{ id: "gen", kind: "comfyui", workflow: "workflows/ref.api.json", bind: { seed: { node: "3", input: "seed" }, prefix: { node: "9", input: "filename_prefix" } } }],
      chunking: { mode: "fixed", size: FRAMES },
      output: { path: "{job}", framePattern: "frame_{frame:04}.png" },
    }),
  );

  const c = await startTestCoordinator(t, dir);
  const admin = ["--coordinator", c.address, "--admin-credentials", join(dir, "data", "admin")];
  const submitted = await runCli(["submit", jobFile, "--json", ...admin], { timeoutMs: 120_000 });
  assert.equal(submitted.status, 0, submitted.stdout + submitted.stderr);
  const { jobId } = JSON.parse(submitted.stdout) as { jobId: string };

  // Once submitted, the artist's folder is out of everyone's reach; only then does an agent with an empty ComfyUI join.
  const hidden = join(dir, "elsewhere");
  renameSync(artist, hidden);
  const standin = await ComfyStandin.start();
  defer(t, () => standin.close());
  assert.deepEqual(readdirSync(standin.inputDir), [], "ComfyUI's input folder starts empty");
  const agent = await startLocalAgent(t, c, dir, "comfy-fresh", { kinds: AgentKindsConfigSchema.parse({ comfyui: { url: standin.url } }) });
  assert.deepEqual(agent.assets.hashes(), [], "the agent starts with an empty cache");

  const finished = (): JobRow | undefined => {
    const j = c.store.jobs.get(jobId);
    return j && ["done", "failed", "cancelled"].includes(j.state) ? j : undefined;
  };
  const job = await waitUntil(finished, 120_000, "the job finished", 100);
  assert.equal(job.state, "done", job.message ?? "");
  renameSync(hidden, artist);

  // The job names the image by content; the agent fetched it; ComfyUI got the artist's bytes under their sha256.
  const steps = JSON.parse(job.stepsJson) as Array<{ images?: unknown }>;
  assert.deepEqual(steps[0]?.images, [{ node: "10", sha256: refSha, size: reference.length, name: "reference.png" }]);
  assert.ok(agent.assets.hashes().includes(refSha), "the agent fetched the image into its cache");
  const uploaded = join(standin.inputDir, "nightshift", `${refSha}.png`);
  assert.ok(existsSync(uploaded), "the image was uploaded into ComfyUI's input folder");
  assert.deepEqual(readFileSync(uploaded), reference, "the uploaded bytes are the artist's file");
  const prompts = standin.requests.filter((r) => r.method === "POST" && r.path === "/prompt").map((r) => (r.body as { prompt: typeof workflow }).prompt);
  assert.equal(prompts.length, FRAMES);
  for (const p of prompts) assert.equal(p["10"]?.inputs.image, `nightshift/${refSha}.png`, "the prompt's LoadImage names the uploaded file");
  assert.ok(jobAssetHashes(job).has(refSha), "the store's cleanup counts the image as the job's");
  const listed = await runCli(["assets", "list", "--json", ...admin]);
  assert.equal(listed.status, 0, listed.stdout + listed.stderr);
  const stored = (JSON.parse(listed.stdout) as Array<{ sha256: string; size: number; kinds: string[]; names: string[]; jobs: string[] }>).find((a) => a.sha256 === refSha);
  assert.deepEqual(stored, { sha256: refSha, size: reference.length, kinds: ["comfyui image"], names: ["reference.png"], jobs: [jobId] }, "assets list names the image and its job");

  // Every frame's provenance names the image.
  await waitUntil(() => existsSync(join(job.outputDir, "manifest.json")), 30_000, "the job's manifest.json");
  const verified = await runCli(["verify", job.outputDir, "--data-dir", join(dir, "data"), "--json"]);
  assert.equal(verified.status, 0, verified.stdout + verified.stderr);
  const report = JSON.parse(verified.stdout) as { verified: Array<{ steps: Array<{ hashes: Record<string, string> }> }> };
  assert.equal(report.verified.length, FRAMES);
  for (const f of report.verified) assert.equal(f.steps[0]?.hashes["image:10"], refSha);

  // A workflow naming an image the artist does not have is refused at submit, naming node and file; nothing is queued.
  renameSync(join(artist, "workflows", "reference.png"), join(artist, "reference.moved"));
  const refused = await runCli(["submit", jobFile, ...admin], { timeoutMs: 60_000 });
  assert.equal(refused.status, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /node '10' \(LoadImage\) image 'reference\.png': no such file/);
  assert.equal(c.store.jobs.list().length, 1);
});
