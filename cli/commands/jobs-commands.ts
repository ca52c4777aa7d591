import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import type { JobView } from "../../proto/gen/nightshift/v1/control.ts";
import { table } from "../format/format.ts";
import { clientOptions, printJson, withControl, type ClientFlags } from "./client-options.ts";
import { renderProgress, renderWatch } from "./watch-render.ts";
import { shutdownSignal } from "../signals.ts";
import { BadInputError } from "../../shared/errors.ts";

function jobLine(j: JobView): string[] {
  return [j.id, j.name, j.state, `${j.framesDone}/${j.framesTotal}`, `${j.chunksDone}/${j.chunksTotal}`, j.chunksFailed ? String(j.chunksFailed) : "", j.message];
}

function printJob(j: JobView, json?: boolean): void {
  if (json) return printJson(j);
  process.stdout.write(table(["id", "name", "state", "frames", "chunks", "failed", "message"], [jobLine(j)]) + "\n");
  if (j.outputDir) process.stdout.write(`output: ${j.outputDir}\n`);
  if (j.videoPath) process.stdout.write(`video:  ${j.videoPath}\n`);
  if (j.failedFrames.length) process.stdout.write(`failed frames: ${j.failedFrames.length}\n`);
  if (j.blocklistedAgents.length) process.stdout.write(`blocklisted agents: ${j.blocklistedAgents.join(", ")}\n`);
  if (j.steps.length) {
    process.stdout.write(`steps (recipe ${j.recipeSha256.slice(0, 12)}):\n`);
    process.stdout.write(table(["step", "kind", "what", "sha256"], j.steps.map((s) => [s.id, s.kind, s.what, s.sha256.slice(0, 16)])) + "\n");
  }
}

export function registerJobCommands(program: Command): void {
  clientOptions(program.command("submit <job-file>").description("submit a job file (YAML or JSON)"))
    .option("--wait", "wait until the job finishes; exit 1 unless it is done")
    .option("--shared-scene", "a Blender scene is on the farm's shared root (path relative to it): upload nothing")
    .option("--blender <path>", "Blender used to find the files a scene references (default: blender on PATH)")
    .option("--scene-timeout <seconds>", "how long Blender may take to list a scene's files", "120")
    .action(async (file: string, flags: ClientFlags & { wait?: boolean; sharedScene?: boolean; blender?: string; sceneTimeout: string }) => {
      // Validated here first, so a bad file fails fast (exit 2) without a coordinator; the coordinator validates again.
      const [{ readJobFileChecked }, { prepareScene, uploadSceneTree }, { prepareComfySteps }, { uploadAssets }] = await Promise.all([
        import("../../shared/job-spec/index.ts"),
        import("../scene/upload-scene.ts"),
        import("../comfy/prepare-comfy-steps.ts"),
        import("../upload-assets.ts"),
      ]);
      const { raw } = await readJobFileChecked(file);
      const timeoutS = Number(flags.sceneTimeout);
      if (!(timeoutS > 0)) throw new BadInputError(`--scene-timeout: expected seconds > 0, got '${flags.sceneTimeout}'`, { field: "scene-timeout" });
      // A Blender scene travels with the job unless it is on the shared root: the scene and every file it references.
      const scene = flags.sharedScene
        ? null
        : await prepareScene(raw, file, { timeoutMs: timeoutS * 1000, say: (l) => void process.stderr.write(`${l}\n`), ...(flags.blender ? { blender: flags.blender } : {}) });
      // A comfyui step's workflow travels in the request, its input images (LoadImage references, masks) by content too.
      const comfy = await prepareComfySteps(scene?.raw ?? raw, file).catch(async (err: unknown) => {
        await scene?.cleanup();
        throw err;
      });
      await withControl(flags, async (c) => {
        if (comfy.images.length > 0) {
          const sent = await uploadAssets(c, comfy.images);
          if (!flags.json) process.stderr.write(`comfyui: ${comfy.images.length} input image(s), ${sent.files} uploaded (${sent.bytes} bytes)\n`);
        }
        if (scene) {
          const sent = await uploadSceneTree(c, scene.tree);
          if (!flags.json) process.stderr.write(`scene: ${scene.tree.files.length} file(s), ${sent.files} uploaded (${sent.bytes} bytes)\n`);
        }
        const r = await c.submit(JSON.stringify(comfy.raw), dirname(resolve(file)), scene?.tree.files.map(({ path, sha256, size }) => ({ path, sha256, size })) ?? []);
        if (!flags.wait) {
          if (flags.json) printJson(r);
          else process.stdout.write(`submitted ${r.jobId}: ${r.frames} frames in ${r.chunks} chunks\n`);
          return;
        }
        let last: JobView | undefined;
        for await (const v of c.watch(r.jobId, shutdownSignal())) {
          last = v;
          if (!flags.json) process.stderr.write(`\r${renderProgress(v)}`);
        }
        if (!flags.json) process.stderr.write("\n");
        if (last) printJob(last, flags.json);
        if (last?.state !== "done") process.exitCode = 1;
      }).finally(() => scene?.cleanup());
    });

  clientOptions(program.command("jobs").description("list jobs")).action(async (flags: ClientFlags) => {
    await withControl(flags, async (c) => {
      const { jobs } = await c.listJobs();
      if (flags.json) return printJson(jobs);
      process.stdout.write(table(["id", "name", "state", "frames", "chunks", "failed", "message"], jobs.map(jobLine)) + "\n");
    });
  });

  const job = program.command("job").description("show or control one job");
  for (const [verb, desc] of [
    ["show", "show a job"],
    ["cancel", "cancel a job (finished frames stay)"],
    ["pause", "pause a job (running chunks finish)"],
    ["resume", "resume a paused job"],
  ] as const) {
    clientOptions(job.command(`${verb} <id>`).description(desc)).action(async (id: string, flags: ClientFlags) => {
      await withControl(flags, async (c) => {
        const fn = { show: c.getJob, cancel: c.cancelJob, pause: c.pauseJob, resume: c.resumeJob }[verb];
        printJob(await fn(id), flags.json);
      });
    });
  }

  clientOptions(job.command("logs <id>").description("each chunk attempt's error and tool output (Blender, command steps)"))
    .option("--chunk <n>", "only chunk N (its index, from 0)")
    .action(async (id: string, flags: ClientFlags & { chunk?: string }) => {
      const chunk = flags.chunk === undefined ? null : Number(flags.chunk);
      if (chunk !== null && !(Number.isInteger(chunk) && chunk >= 0)) throw new BadInputError(`--chunk: expected a chunk index >= 0, got '${flags.chunk}'`, { field: "chunk" });
      await withControl(flags, async (c) => {
        const { attempts } = await c.jobLogs(id, chunk);
        if (flags.json) return printJson(attempts);
        for (const a of attempts) {
          process.stdout.write(`== chunk ${a.chunk}, attempt ${a.attemptId} on ${a.agent}: ${a.state}${a.error ? `: ${a.error}` : ""}\n`);
          if (a.log) process.stdout.write(a.log.endsWith("\n") ? a.log : `${a.log}\n`);
        }
        if (attempts.length === 0) process.stdout.write("no attempts yet\n");
      });
    });

  clientOptions(program.command("watch <id>").description("live progress of a job: a bar per job and per agent, frames/s and ETA")).action(async (id: string, flags: ClientFlags) => {
    await withControl(flags, async (c) => {
      // On a terminal the screen is redrawn in place; otherwise (a pipe, a log) each update is printed once.
      const tty = process.stderr.isTTY === true;
      let shown = 0;
      for await (const v of c.watch(id, shutdownSignal())) {
        if (flags.json) {
          process.stdout.write(JSON.stringify(v) + "\n");
          continue;
        }
        const lines = renderWatch(v, Math.max(10, Math.min(40, (process.stderr.columns ?? 80) - 50)));
        process.stderr.write(`${tty && shown > 0 ? `\x1b[${shown}A\x1b[J` : ""}${lines.join("\n")}\n`);
        shown = lines.length;
      }
    });
  });
}
