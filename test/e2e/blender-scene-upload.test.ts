import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { sceneTreeSha256, type TreeEntry } from "../../shared/provenance/scene-tree-hash.ts";
import { AgentKindsConfigSchema } from "../../agent/config/agent-kinds-config.ts";
import type { JobRow } from "../../coordinator/store/jobs-table.ts";
import { sha256File } from "../../shared/model-manifest/model-file-hash.ts";
import { runCli } from "../support/run-cli.ts";
import { startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { blenderMissing, buildBlenderScene, pixelDigest, renderReference } from "../support/blender-scene.ts";

// A studio without a shared mount: the artist's folder is seen only by the CLI. Neither the coordinator
// (no sharedRoot) nor the agent (no sharedRoot, empty cache) can read it; the scene and its texture travel
// by content, and the agent's frames must equal a plain `blender -b -a` of the artist's scene.

const FRAMES = 2;

test("a Blender scene with a texture in a subfolder renders on an agent that cannot see the artist's folder", { skip: blenderMissing() }, async (t) => {
  const dir = tempDir(t, "ns-e2e-scene-");
  const artist = join(dir, "artist");
  const scene = await buildBlenderScene(join(artist, "shot"), { frames: FRAMES, width: 32, height: 18, samples: 4, texture: "tex/checker.png" });
  const texture = join(artist, "shot", "tex", "checker.png");

  const c = await startTestCoordinator(t, dir);
  const admin = ["--coordinator", c.address, "--admin-credentials", join(dir, "data", "admin")];
  const jobFile = join(artist, "job.json");
  writeFileSync(
    jobFile,
    JSON.stringify({
      name: "sh010 no mount",
      frames: { start: 1, end: FRAMES },
      steps: [{ id: "render", kind: "blender", scene: "shot/scene.blend" }],
      chunking: { mode: "fixed", size: FRAMES },
      output: { path: "{job}", framePattern: "frame_{frame:04}.png" },
    }),
  );
  const submitted = await runCli(["submit", jobFile, "--json", ...admin], { timeoutMs: 120_000 });
  assert.equal(submitted.status, 0, submitted.stdout + submitted.stderr);
  const { jobId } = JSON.parse(submitted.stdout) as { jobId: string };

  // Once submitted, the artist's folder is out of everyone's reach; only then does an agent join.
  const hidden = join(dir, "elsewhere");
  renameSync(artist, hidden);
  const agent = await startLocalAgent(t, c, dir, "no-mount", { kinds: AgentKindsConfigSchema.parse({ blender: { enabled: true } }) });
  assert.deepEqual(agent.assets.hashes(), [], "the agent starts with an empty cache");
  const finished = (): JobRow | undefined => {
    const j = c.store.jobs.get(jobId);
    return j && ["done", "failed", "cancelled"].includes(j.state) ? j : undefined;
  };
  const job = await waitUntil(finished, 240_000, "the job finished", 250);
  assert.equal(job.state, "done", job.message ?? "");
  renameSync(hidden, artist);

  // The job's step names the scene and its texture by content, relative to their common folder.
  const steps = JSON.parse(job.stepsJson) as Array<{ scene: string; tree?: Array<{ path: string; sha256: string }> }>;
  const textureSha = await sha256File(texture);
  assert.deepEqual(steps[0]?.tree?.map((f) => [f.path, f.sha256]), [
    ["scene.blend", scene.sha256],
    ["tex/checker.png", textureSha],
  ]);
  assert.deepEqual(agent.assets.hashes().sort(), [scene.sha256, textureSha].sort(), "the agent fetched both files into its cache");
  const trees = readdirSync(join(dir, "agent-no-mount", "cache", "scenes")).filter((n) => /^[0-9a-f]{64}$/.test(n));
  assert.equal(trees.length, 1);
  assert.ok(existsSync(join(dir, "agent-no-mount", "cache", "scenes", trees[0] ?? "", "tex", "checker.png")), "the tree was rebuilt with its subfolder");

  // Pixels, not bytes: Blender stamps dates into PNG metadata, and the sink adds its provenance chunk.
  const reference = await renderReference(scene);
  const frames = readdirSync(join(job.outputDir)).filter((f) => f.endsWith(".png")).sort();
  assert.equal(frames.length, FRAMES);
  for (const [i, name] of frames.entries()) {
    assert.equal(pixelDigest(readFileSync(join(job.outputDir, name))), reference.get(i + 1), `frame ${i + 1} equals the direct render`);
  }

  // Every frame names the whole tree; verify checks the artist's files against the list in manifest.json.
  await waitUntil(() => existsSync(join(job.outputDir, "manifest.json")), 30_000, "the job's manifest.json");
  const verifyTree = (): ReturnType<typeof runCli> => runCli(["verify", job.outputDir, "--data-dir", join(dir, "data"), "--scene-tree", join(artist, "shot"), "--json"]);
  const verified = await verifyTree();
  assert.equal(verified.status, 0, verified.stdout + verified.stderr);
  const report = JSON.parse(verified.stdout) as { verified: Array<{ steps: Array<{ hashes: Record<string, string> }> }> };
  assert.equal(report.verified.length, FRAMES);
  assert.equal(report.verified[0]?.steps[0]?.hashes.tree, sceneTreeSha256((steps[0]?.tree ?? []) as TreeEntry[]));

  // A scene whose texture is gone is refused at submit, naming the file; nothing is queued.
  renameSync(texture, `${texture}.moved`);
  const gone = await verifyTree();
  assert.equal(gone.status, 1, gone.stdout + gone.stderr);
  assert.match(gone.stdout, /"kind": "missing",\s*"file": "[^"]*tex\/checker\.png"/);
  const refused = await runCli(["submit", jobFile, ...admin], { timeoutMs: 120_000 });
  assert.equal(refused.status, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /tex\/checker\.png/);
  assert.equal(c.store.jobs.list().length, 1);
});
