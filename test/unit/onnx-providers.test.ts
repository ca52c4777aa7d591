import { test } from "node:test";
import assert from "node:assert/strict";
import { BadInputError } from "../../shared/errors.ts";
import { needsProviderCheck, parseOnnxProviders, providerNeeds } from "../../agent/executors/onnx-providers.ts";

test("a provider list is parsed in order, spaces trimmed", () => {
  assert.deepEqual(parseOnnxProviders("webgpu, cpu", "--onnx-providers"), ["webgpu", "cpu"]);
  assert.deepEqual(parseOnnxProviders("cuda,webgpu,cpu", "onnxProviders"), ["cuda", "webgpu", "cpu"]);
});

test("an unknown, repeated or empty provider is bad input naming the field", () => {
  const bad = (text: string, mentions: RegExp) =>
    assert.throws(
      () => parseOnnxProviders(text, "--onnx-providers"),
      (err: unknown) => err instanceof BadInputError && err.field === "--onnx-providers" && mentions.test(err.message),
    );
  bad("tpu,cpu", /unknown execution provider 'tpu'/);
  bad("cpu,cpu", /'cpu' is named twice/);
  bad("webgpu,,cpu", /comma-separated list/);
  bad("", /comma-separated list/);
});

test("only a list beyond the CPU is checked at start; each GPU provider says what it needs", () => {
  assert.equal(needsProviderCheck(["cpu"]), false);
  assert.equal(needsProviderCheck(["webgpu", "cpu"]), true);
  assert.match(providerNeeds("webgpu"), /Vulkan/);
  assert.match(providerNeeds("cuda"), /CUDA/);
});
