// Why this file exists: the README's studio commands, job files and config examples must run as pasted.
// Blocks are chosen by their marker (see test/support/doc-blocks.ts and the README's "The documentation runs
// as written"); the sections the issue named must carry one, so a block cannot drop out of the test silently.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { compileCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { BUNDLED_MODELS_DIR, PROJECT_ROOT } from "../../cli/paths.ts";
import { validateJobFileText } from "../../shared/job-spec/index.ts";
import { docBlocks, type DocBlock } from "../support/doc-blocks.ts";
import { compileAgentConfigExample } from "../support/agent-config-example.ts";
import { runCli } from "../support/run-cli.ts";
import { startCli, type CliProcess } from "../support/cli-process.ts";

const readme = docBlocks("README.md");
const marked = (marker: string): DocBlock[] => readme.filter((b) => b.markers.includes(marker));

test("the README's marked blocks are where the issue found broken ones; unmarked blocks are listed", (t) => {
  assert.equal(marked("studio-test").length, 1, "one ```sh studio-test block (Running a studio)");
  assert.equal(marked("studio-test")[0]?.section, "Running a studio");
  assert.ok(marked("job-test").length >= 2, "the job file examples carry ```yaml job-test");
  assert.equal(marked("smallest").length, 1, "the smallest job carries ```yaml job-test smallest");
  assert.ok(marked("config-test").some((b) => /tariff/.test(b.text)), "the tariff examples carry ```yaml config-test");
  for (const b of readme) if (b.markers.length === 0 && b.lang !== "") t.diagnostic(`not run: README.md:${b.line} (${b.lang}, ${b.section})`);
});

test("the README and deploy/README.md point at no file outside the repository", () => {
  for (const file of ["README.md", "deploy/README.md"]) {
    const text = readFileSync(join(PROJECT_ROOT, file), "utf8");
    assert.doesNotMatch(text, /\]\(\.\.\/|`\.\.\/[^`]*`/, `${file} links outside the repository`);
  }
});

test("every job file in the README is valid as pasted", () => {
  for (const b of marked("job-test")) assert.doesNotThrow(() => validateJobFileText(b.text, `README.md:${b.line}.yaml`), `README.md:${b.line}`);
});

test("every config example in the README compiles as pasted (with a data dir and an output root)", () => {
  for (const b of marked("config-test")) {
    const raw = YAML.parse(b.text) as Record<string, unknown>;
    assert.doesNotThrow(() => compileCoordinatorConfig({ dataDir: "/tmp/x", outputRoot: "/tmp/y", ...raw }, BUNDLED_MODELS_DIR), `README.md:${b.line}`);
  }
});

test("every agent config example in the README is valid as pasted (the agent's whole schema, no unknown key)", () => {
  assert.ok(marked("agent-config-test").length >= 4, "the commands, ComfyUI, Blender and agent settings configs carry ```yaml agent-config-test");
  for (const b of marked("agent-config-test")) assert.doesNotThrow(() => compileAgentConfigExample(b.text, `README.md:${b.line}`), `README.md:${b.line}`);
});

/** A port P on 127.0.0.1 with P + 1 free too (the coordinator enrolls on its port + 1). */
async function freePortPair(): Promise<number> {
  const bind = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (let i = 0; i < 50; i++) {
    const p = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await bind(p)) && (await bind(p + 1))) return p;
  }
  throw new Error("no free pair of ports on 127.0.0.1");
}

/**
 * Runs the ```sh studio-test block line by line, as an admin would paste it, with these substitutions only:
 * /srv/nightshift and /mnt/nas/renders move under a temp dir; 0.0.0.0:7400 and coordinator-host:7400 become
 * 127.0.0.1 on a free port, and the coordinator gets --no-mdns (tests send traffic only to loopback);
 * TOKEN, FINGERPRINT and ID are what `token create` and `submit` printed; HOME is a temp dir. The
 * coordinator and agent lines keep running in the background; every other line must exit 0.
 */
test("the README's 'Running a studio' block runs as pasted, on loopback", { timeout: 240_000 }, async (t) => {
  const block = marked("studio-test")[0] as DocBlock;
  const job = marked("smallest")[0] as DocBlock;
  const dir = mkdtempSync(join(tmpdir(), "ns-docs-"));
  const running: CliProcess[] = [];
  t.after(async () => {
    for (const p of running.reverse()) await p.stop(10_000);
    rmSync(dir, { recursive: true, force: true });
  });
  const cwd = join(dir, "cwd");
  mkdirSync(cwd, { recursive: true });
  mkdirSync(join(dir, "home"), { recursive: true });
  writeFileSync(join(cwd, "shot-040.yaml"), job.text);
  const port = await freePortPair();
  const env = { HOME: join(dir, "home"), NIGHTSHIFT_LOG_LEVEL: "info" };
  const found: Record<string, string> = {};
  const substitute = (line: string): string =>
    line
      .replaceAll("/srv/nightshift", join(dir, "srv/nightshift"))
      .replaceAll("/mnt/nas/renders", join(dir, "renders"))
      .replaceAll("0.0.0.0:7400", `127.0.0.1:${port}`)
      .replaceAll("coordinator-host:7400", `127.0.0.1:${port}`)
      .replace(/\b(TOKEN|FINGERPRINT|ID)\b/g, (w) => {
        const v = found[w];
        if (v === undefined) throw new Error(`README.md:${block.line}: ${w} is used before a command printed it`);
        return v;
      });

  for (const raw of block.text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const words = substitute(line).split(/\s+/);
    assert.doesNotMatch(line, /["'|;&<>]/, `README.md:${block.line}: '${line}' must be one plain command`);
    if (words[0] === "cp") {
      assert.equal(words.length, 4, `'${line}': cp -r FROM TO`);
      assert.equal(words[1], "-r");
      cpSync(words[2] as string, join(cwd, words[3] as string), { recursive: true });
      continue;
    }
    assert.equal(words[0], "nightshift", `README.md:${block.line}: '${line}'`);
    const args = words.slice(1);
    if (args[0] === "coordinator") {
      const p = startCli([...args, "--no-mdns"], { env, cwd });
      running.push(p);
      await p.waitFor(/coordinator listening on/, 60_000);
      continue;
    }
    if (args[0] === "agent") {
      const p = startCli(args, { env, cwd });
      running.push(p);
      await p.waitFor(/agent enrolled/, 60_000);
      continue;
    }
    const r = await runCli(args, { cwd, env, timeoutMs: 120_000 });
    assert.equal(r.status, 0, `'${line}' exited ${r.status}: ${r.stderr}`);
    if (args[0] === "token") {
      found.TOKEN = /token:\s+(nsj_\S+)/.exec(r.stdout)?.[1] ?? "";
      found.FINGERPRINT = /ca fingerprint:\s+([0-9a-f]{64})/.exec(r.stdout)?.[1] ?? "";
      assert.ok(found.TOKEN && found.FINGERPRINT, r.stdout);
    }
    if (args[0] === "submit") {
      found.ID = /\b(job_[0-9a-z]+)/.exec(r.stdout)?.[1] ?? "";
      assert.ok(found.ID, r.stdout);
      assert.match(r.stdout, /\bdone\b/);
    }
    if (args[0] === "report") assert.match(r.stdout, /gpu-4090/);
  }
  assert.ok(found.ID, "the block submitted a job");
});
