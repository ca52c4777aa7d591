import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, logFormat } from "../../shared/log.ts";
import { runCli } from "../support/run-cli.ts";

function withEnv(value: string | undefined, fn: () => void): void {
  const before = process.env.NIGHTSHIFT_LOG_FORMAT;
  if (value === undefined) delete process.env.NIGHTSHIFT_LOG_FORMAT;
  else process.env.NIGHTSHIFT_LOG_FORMAT = value;
  try {
    fn();
  } finally {
    if (before === undefined) delete process.env.NIGHTSHIFT_LOG_FORMAT;
    else process.env.NIGHTSHIFT_LOG_FORMAT = before;
  }
}

test("logs are pretty on a terminal and JSON elsewhere, unless NIGHTSHIFT_LOG_FORMAT says otherwise", () => {
  withEnv(undefined, () => {
    assert.equal(logFormat(true), "pretty");
    assert.equal(logFormat(false), "json");
  });
  withEnv("json", () => assert.equal(logFormat(true), "json"));
  withEnv("pretty", () => assert.equal(logFormat(false), "pretty"));
});

test("a logger with a file writes JSON lines there", () => {
  const dir = mkdtempSync(join(tmpdir(), "ns-log-"));
  try {
    const file = join(dir, "sub", "demo.log");
    const log = createLogger("t", "info", { file });
    log.info({ chunkId: "c1" }, "chunk done");
    const line = JSON.parse(readFileSync(file, "utf8").trim()) as Record<string, unknown>;
    assert.equal(line.msg, "chunk done");
    assert.equal(line.chunkId, "c1");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--log-format and NIGHTSHIFT_LOG_FORMAT refuse an unknown format with exit 2, naming it", async () => {
  const flag = await runCli(["--log-format", "xml", "jobs", "--coordinator", "127.0.0.1:1"]);
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /--log-format: expected pretty or json, got 'xml'/);
  const env = await runCli(["jobs", "--coordinator", "127.0.0.1:1"], { env: { NIGHTSHIFT_LOG_FORMAT: "yaml" } });
  assert.equal(env.status, 2);
  assert.match(env.stderr, /NIGHTSHIFT_LOG_FORMAT: expected pretty or json, got 'yaml'/);
});

test("the pretty format prints a readable line with the message and its fields, not JSON", () => {
  const dir = mkdtempSync(join(tmpdir(), "ns-log-"));
  try {
    const out = join(dir, "out.txt");
    // A child process, so that the pretty stream writes to a real file descriptor 2.
    const script = `import { createLogger } from ${JSON.stringify(new URL("../../shared/log.ts", import.meta.url).href)};
createLogger("t", "info", { format: "pretty" }).info({ chunkId: "c1" }, "chunk done");`;
    const r = spawnSyncNode(["--import", "tsx", "--input-type=module", "-e", script], out);
    assert.equal(r, 0);
    const text = readFileSync(out, "utf8");
    assert.match(text, /INFO.*chunk done/);
    assert.match(text, /chunkId: "c1"/);
    assert.throws(() => JSON.parse(text.trim()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function spawnSyncNode(args: string[], stderrFile: string): number | null {
  const fd = openSync(stderrFile, "w");
  try {
    return spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", fd] }).status;
  } finally {
    closeSync(fd);
  }
}
