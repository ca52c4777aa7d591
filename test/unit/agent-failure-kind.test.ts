import { test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { failureKind } from "../../agent/work/failure-kind.ts";

const grpcError = (code: number, message: string): Error => Object.assign(new Error(`${code} ${message}`), { code });

test("a dropped coordinator connection hands the chunk back; a render error is the agent's failure; a sink refusal is neither", () => {
  // A coordinator restart drops every upload at once: counted as failures, three of them blocklisted the only agent.
  assert.equal(failureKind(grpcError(status.UNAVAILABLE, "UNAVAILABLE: Connection dropped"), false), "handed-back");
  assert.equal(failureKind(new Error("blender exited with code 1"), false), "failed");
  assert.equal(failureKind(grpcError(status.INTERNAL, "INTERNAL: bad frame"), false), "failed");
  assert.equal(failureKind(new Error("agent draining"), true), "handed-back");
  assert.equal(failureKind(grpcError(status.FAILED_PRECONDITION, "stale attempt"), false), "refused");
  assert.equal(failureKind(grpcError(status.FAILED_PRECONDITION, "stale attempt"), true), "refused");
  assert.equal(failureKind("a string", false), "failed");
  assert.equal(failureKind(null, false), "failed");
});
