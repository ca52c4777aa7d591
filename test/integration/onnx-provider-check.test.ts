import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BadInputError } from "../../shared/errors.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { checkOnnxProviders } from "../../agent/executors/onnx-provider-check.ts";
import { runCli } from "../support/run-cli.ts";

/**
 * The start-time check of an agent's ONNX providers, with the real
 * onnxruntime-node. WebGPU is built into it; whether it starts depends on the
 * machine (a GPU with a Vulkan driver: it ran on an NVIDIA H200, see the
 * README's GPU section; CI has none), so the webgpu case accepts either
 * outcome but checks each one fully.
 */

test("the CPU provider runs the bundled check model", async () => {
  await checkOnnxProviders(["cpu"], BUNDLED_MODELS_DIR, "--onnx-providers");
});

test("webgpu either runs the check model or is refused naming the flag and what it needs", async () => {
  try {
    await checkOnnxProviders(["webgpu", "cpu"], BUNDLED_MODELS_DIR, "--onnx-providers");
  } catch (err) {
    assert.ok(err instanceof BadInputError, `a BadInputError, got ${String(err)}`);
    assert.equal(err.field, "--onnx-providers");
    assert.match(err.message, /webgpu.*Vulkan/s);
    assert.match(err.message, /onnxruntime said: \S/);
  }
});

test("a models folder without the check model is an error, not a pass", async () => {
  const empty = mkdtempSync(join(tmpdir(), "ns-ep-"));
  try {
    await assert.rejects(checkOnnxProviders(["webgpu", "cpu"], empty, "--onnx-providers"), /colour-grade/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("nightshift agent: a bad provider list exits 2 before joining anything", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ns-ep-cli-"));
  try {
    // 127.0.0.1:9 (discard) is never contacted: the list is refused first.
    const r = await runCli(["agent", "--coordinator", "127.0.0.1:9", "--data-dir", join(dir, "agent"), "--onnx-providers", "tpu,cpu"]);
    assert.equal(r.status, 2, `exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, /--onnx-providers: unknown execution provider 'tpu'/);
    const both = await runCli(["agent", "--coordinator", "127.0.0.1:9", "--data-dir", join(dir, "agent"), "--onnx-providers", "cpu", "--cuda"]);
    assert.equal(both.status, 2, `exit code (stderr: ${both.stderr})`);
    assert.match(both.stderr, /either --cuda or --onnx-providers/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
