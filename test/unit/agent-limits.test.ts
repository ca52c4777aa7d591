import { test } from "node:test";
import assert from "node:assert/strict";
import { agentLimits, KEEP_UPLOAD_BYTES_ENV } from "../../agent/config/agent-limits.ts";
import { parseAgentFile } from "../../agent/config/agent-file-schema.ts";
import { KEEP_BYTES } from "../../agent/grpc/kept-frames.ts";
import { BadInputError } from "../../shared/errors.ts";

const refusedAs = (field: string) => (err: unknown) => err instanceof BadInputError && err.field === field && err.message.startsWith(`${field}:`);

test("the agent's keepUploadBytes and claimNext: defaults, sizes, the flag over the config key over the environment", () => {
  assert.deepEqual(agentLimits({}, {}, {}), { keepUploadBytes: KEEP_BYTES, claimNext: true });
  assert.equal(agentLimits({ keepUploadBytes: "0" }, {}, {}).keepUploadBytes, 0, "0 keeps none");
  assert.equal(agentLimits({ keepUploadBytes: "32MiB" }, {}, {}).keepUploadBytes, 32 * 1024 ** 2);
  assert.equal(agentLimits({}, { keepUploadBytes: 1_000_000 }, {}).keepUploadBytes, 1_000_000);
  assert.equal(agentLimits({}, { keepUploadBytes: "2GB" }, {}).keepUploadBytes, 2e9);
  assert.equal(agentLimits({}, {}, { [KEEP_UPLOAD_BYTES_ENV]: "0" }).keepUploadBytes, 0);
  assert.equal(agentLimits({ keepUploadBytes: "1KiB" }, { keepUploadBytes: "2KiB" }, { [KEEP_UPLOAD_BYTES_ENV]: "3" }).keepUploadBytes, 1024);
  assert.equal(agentLimits({}, { keepUploadBytes: "2KiB" }, { [KEEP_UPLOAD_BYTES_ENV]: "3" }).keepUploadBytes, 2048);
  assert.equal(agentLimits({}, { claimNext: false }, {}).claimNext, false);
  assert.equal(agentLimits({ claimNext: false }, { claimNext: true }, {}).claimNext, false, "--no-claim-next wins");
  assert.equal(agentLimits({ claimNext: true }, { claimNext: false }, {}).claimNext, false, "commander's default true does not hide the config key");
});

test("a bad keepUploadBytes or claimNext is refused, naming where it came from (no silent fallback to the default)", () => {
  assert.throws(() => agentLimits({ keepUploadBytes: "lots" }, {}, {}), refusedAs("--keep-upload-bytes"));
  assert.throws(() => agentLimits({ keepUploadBytes: "-1" }, {}, {}), refusedAs("--keep-upload-bytes"));
  assert.throws(() => agentLimits({}, { keepUploadBytes: -5 }, {}), refusedAs("keepUploadBytes"));
  assert.throws(() => agentLimits({}, { keepUploadBytes: 1.5 }, {}), refusedAs("keepUploadBytes"));
  assert.throws(() => agentLimits({}, {}, { [KEEP_UPLOAD_BYTES_ENV]: "64M" }), refusedAs(KEEP_UPLOAD_BYTES_ENV));
  assert.throws(() => agentLimits({}, {}, { [KEEP_UPLOAD_BYTES_ENV]: "" }), refusedAs(KEEP_UPLOAD_BYTES_ENV));
  // A value of the wrong type in the file is the schema's to refuse (the file is compiled through it before agentLimits).
  const throughSchema = (raw: Record<string, unknown>) => () => agentLimits({}, parseAgentFile(raw, "agent.yaml"), {});
  const refusedInFile = (field: string) => (err: unknown) => err instanceof BadInputError && err.field === field && err.message.startsWith(`agent config agent.yaml: ${field}:`);
  assert.throws(throughSchema({ claimNext: "no" }), refusedInFile("claimNext"));
  assert.throws(throughSchema({ keepUploadBytes: true }), refusedInFile("keepUploadBytes"));
  assert.throws(throughSchema({ keepUploadBytes: -5 }), refusedAs("keepUploadBytes"));
});
