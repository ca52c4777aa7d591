import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AgentKindsConfigSchema } from "../../agent/config/agent-kinds-config.ts";
import type { JobRow } from "../../coordinator/store/jobs-table.ts";
import { exrLayout, readExrText, removeExrText } from "../../shared/media/exr-header-attribute.ts";
import { findFfmpeg } from "../../shared/media/ffmpeg-binaries.ts";
import { exrPixelsOf } from "../../shared/provenance/exr-pixel-hash.ts";
import { exrFrameManifestSchema, PROVENANCE_KEYWORD } from "../../shared/provenance/provenance-manifest.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { blenderBin, blenderMissing, buildBlenderScene } from "../support/blender-scene.ts";
import { startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { runCli } from "../support/run-cli.ts";

// Real Blender renders OpenEXR frames through the farm: every frame is committed with its signed record
// in the EXR header, OpenEXR itself (Blender reading the file back) and ffmpeg see the same pixels as
// in the file without the record, verify passes against the ledger, and a flipped pixel byte is altered.

const FRAMES = 2;

test("Blender EXR frames through the farm carry a signed record in their header that verify checks", { skip: blenderMissing() }, async (t) => {
  const dir = tempDir(t, "ns-e2e-exr-");
  const artist = join(dir, "artist");
  await buildBlenderScene(join(artist, "shot"), { frames: FRAMES, width: 32, height: 18, samples: 4 });
  const c = await startTestCoordinator(t, dir);
  const admin = ["--coordinator", c.address, "--admin-credentials", join(dir, "data", "admin")];
  const jobFile = join(artist, "job.json");
  const spec = {
    name: "sh020 exr",
    frames: { start: 1, end: FRAMES },
    steps: [{ id: "render", kind: "blender", scene: "shot/scene.blend", format: "exr" }],
    chunking: { mode: "fixed", size: FRAMES },
    output: { path: "{job}", framePattern: "frame_{frame:04}.exr" },
  };
  // A PNG name for EXR frames is refused at submit, naming the field.
  writeFileSync(jobFile, JSON.stringify({ ...spec, output: { path: "{job}", framePattern: "frame_{frame:04}.png" } }));
  const wrongName = await runCli(["submit", jobFile, ...admin], { timeoutMs: 120_000 });
  assert.equal(wrongName.status, 2, wrongName.stdout + wrongName.stderr);
  assert.match(wrongName.stderr, /framePattern/);

  writeFileSync(jobFile, JSON.stringify(spec));
  const submitted = await runCli(["submit", jobFile, "--json", ...admin], { timeoutMs: 120_000 });
  assert.equal(submitted.status, 0, submitted.stdout + submitted.stderr);
  const { jobId } = JSON.parse(submitted.stdout) as { jobId: string };
  await startLocalAgent(t, c, dir, "exr-agent", { kinds: AgentKindsConfigSchema.parse({ blender: { enabled: true } }) });
  const finished = (): JobRow | undefined => {
    const j = c.store.jobs.get(jobId);
    return j && ["done", "failed", "cancelled"].includes(j.state) ? j : undefined;
  };
  const job = await waitUntil(finished, 240_000, "the job finished", 250);
  assert.equal(job.state, "done", job.message ?? "");

  const names = readdirSync(job.outputDir).filter((f) => f.endsWith(".exr")).sort();
  assert.deepEqual(names, ["frame_0001.exr", "frame_0002.exr"]);
  const rows = c.store.frames.listByJob(jobId);
  for (const name of names) {
    const bytes = readFileSync(join(job.outputDir, name));
    const m = exrFrameManifestSchema.parse(JSON.parse(readExrText(bytes, PROVENANCE_KEYWORD)!).manifest);
    assert.equal(m.job.id, jobId);
    assert.deepEqual(m.pixels, { ...exrPixelsOf(bytes), by: "coordinator" });
    assert.deepEqual([m.pixels.width, m.pixels.height], [32, 18]);
    assert.equal(m.exr.sha256, rows.find((r) => r.frame === m.frame)?.sha256, "the record names the bytes the ledger holds");
    assert.equal(m.steps[0]?.kind, "blender");
    assert.ok(exrLayout(bytes).chunkCount > 0);
  }

  // OpenEXR (Blender reading the files back) and ffmpeg decode the stamped frame to the samples of the frame without its record.
  const first = join(job.outputDir, names[0]!);
  const bare = join(dir, "bare.exr");
  writeFileSync(bare, removeExrText(readFileSync(first), PROVENANCE_KEYWORD));
  const [stampedPixels, barePixels] = blenderPixels([first, bare]);
  assert.ok(stampedPixels !== undefined && stampedPixels === barePixels, `OpenEXR reads the same pixels (${stampedPixels} / ${barePixels})`);
  const ffmpeg = findFfmpeg();
  if (ffmpeg !== null) {
    const decode = (p: string): Buffer => spawnSync(ffmpeg, ["-v", "error", "-f", "image2", "-i", p, "-f", "rawvideo", "-pix_fmt", "gbrpf32le", "-"], { maxBuffer: 16 << 20 }).stdout;
    const plain = decode(bare);
    assert.equal(plain.length, 32 * 18 * 3 * 4, "ffmpeg decodes the frame Blender wrote");
    assert.ok(decode(first).equals(plain), "ffmpeg decodes the stamped frame to the same samples");
  }

  await waitUntil(() => existsSync(join(job.outputDir, "manifest.json")), 30_000, "the job's manifest.json");
  const verify = (): ReturnType<typeof runCli> => runCli(["verify", job.outputDir, "--data-dir", join(dir, "data"), "--json"]);
  const ok = await verify();
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { verified: unknown[] }).verified.length, FRAMES);

  // One flipped byte in the last pixel chunk.
  const bytes = readFileSync(first);
  bytes[bytes.length - 5]! ^= 0x01;
  writeFileSync(first, bytes);
  const altered = await verify();
  assert.equal(altered.status, 1, altered.stdout + altered.stderr);
  const findings = (JSON.parse(altered.stdout) as { findings: Array<{ kind: string; file: string }> }).findings;
  assert.ok(findings.some((f) => f.kind === "altered" && f.file === names[0]), JSON.stringify(findings));
  assert.ok(!findings.some((f) => f.file === names[1]), "the other frame is fine");
});

/** sha256 of the float RGBA pixels Blender (OpenEXR) reads from each file, or undefined for one it cannot load. */
function blenderPixels(paths: string[]): Array<string | undefined> {
  const script = [
    "import bpy, sys, hashlib, array",
    "for p in sys.argv[sys.argv.index('--') + 1:]:",
    "    try:",
    "        img = bpy.data.images.load(p)",
    "        px = array.array('f', [0.0]) * (img.size[0] * img.size[1] * img.channels)",
    "        img.pixels.foreach_get(px)",
    "        print('PIXELS', hashlib.sha256(px.tobytes()).hexdigest() if img.size[0] > 0 else 'none', flush=True)",
    "    except Exception as e:",
    "        print('PIXELS none', flush=True)",
  ].join("\n");
  const r = spawnSync(blenderBin(), ["-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", script, "--", ...paths], { encoding: "utf8", timeout: 120_000 });
  const found = [...r.stdout.matchAll(/^PIXELS (\S+)$/gm)].map((m) => (m[1] === "none" ? undefined : m[1]));
  return paths.map((_, i) => found[i]);
}
