import { test } from "node:test";
import assert from "node:assert/strict";
import { Metadata, status } from "@grpc/grpc-js";
import { failureKind, refusalReported } from "../../agent/work/failure-kind.ts";

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

/** A refusal as the agent's upload stream hands it on (agent/grpc/upload-stream.ts): the sink's text in the message, its reason in `refusal` metadata. */
function refusal(reason: string, details: string): Error {
  const metadata = new Metadata();
  metadata.set("refusal", reason);
  return Object.assign(new Error(`${status.FAILED_PRECONDITION} FAILED_PRECONDITION: ${details}`), { code: status.FAILED_PRECONDITION, details, metadata });
}

test("a refusal that says the attempt is over at the coordinator (committed, lost, unknown) is not reported as a failure; other refusals are", () => {
  // A kept upload sent again to a restarted coordinator that had committed it: the sink's words name no "stale".
  assert.equal(refusalReported(refusal("stale-attempt", "attempt att_1 is committed")), false);
  assert.equal(refusalReported(refusal("stale-attempt", "attempt att_1 is no longer the chunk's current attempt")), false);
  assert.equal(refusalReported(refusal("unknown-attempt", "unknown attempt att_1")), false);
  // This attempt's own failure: reported, even when its words say "stale" or "unknown-attempt".
  assert.equal(refusalReported(refusal("bad-frame", "frame 3: stale IDAT")), true);
  assert.equal(refusalReported(refusal("disk-full", "output root is full while staging unknown-attempt's frame")), true);
  assert.equal(refusalReported(refusal("wrong-agent", "attempt att_1 belongs to another agent")), true);
});
