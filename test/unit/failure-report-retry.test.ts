import assert from "node:assert/strict";
import { test } from "node:test";
import { status as grpcStatus } from "@grpc/grpc-js";
import { FailureReportRetry, coordinatorUnreached, type FailureReport } from "../../agent/work/failure-report-retry.ts";
import { testLog } from "../helpers/test-log.ts";

const grpcError = (code: number): Error & { code: number } => Object.assign(new Error(`code ${code}`), { code });
const report: FailureReport = { attemptId: "att_1", error: "14 UNAVAILABLE: Connection dropped", handedBack: true };

test("only a coordinator not reached (UNAVAILABLE, DEADLINE_EXCEEDED) counts for a retry", () => {
  assert.equal(coordinatorUnreached(grpcError(grpcStatus.UNAVAILABLE)), true);
  assert.equal(coordinatorUnreached(grpcError(grpcStatus.DEADLINE_EXCEEDED)), true);
  assert.equal(coordinatorUnreached(grpcError(grpcStatus.PERMISSION_DENIED)), false);
  assert.equal(coordinatorUnreached(new Error("plain")), false);
  assert.equal(coordinatorUnreached(undefined), false);
});

test("a report the coordinator did not get is sent again until it is delivered, once", async () => {
  const sent: FailureReport[] = [];
  let down = 2;
  const retry = new FailureReportRetry(async (r) => {
    sent.push(r);
    if (down-- > 0) throw grpcError(grpcStatus.DEADLINE_EXCEEDED);
    return "retry";
  }, testLog(), { pauseMs: 1 });
  assert.equal(retry.retry(report, grpcError(grpcStatus.DEADLINE_EXCEEDED)), true);
  // The same attempt is not retried twice at once.
  assert.equal(retry.retry(report, grpcError(grpcStatus.UNAVAILABLE)), false);
  assert.equal(retry.inFlight, 1);
  await retry.settled();
  assert.equal(sent.length, 3, "two tries found the coordinator down, the third got through");
  assert.deepEqual(sent.at(-1), report);
  assert.equal(retry.inFlight, 0);
});

test("retries are bounded, a refusal ends them, and an error that is not about reaching the coordinator is not retried", async () => {
  /** Sends made for one report whose first send found the coordinator down, when every later send fails with `code`. */
  const sendsUntilSettled = async (code: grpcStatus): Promise<{ sends: number; retry: FailureReportRetry }> => {
    let sends = 0;
    const retry = new FailureReportRetry(async () => {
      sends++;
      throw grpcError(code);
    }, testLog(), { pauseMs: 1, tries: 3 });
    retry.retry(report, grpcError(grpcStatus.UNAVAILABLE));
    await retry.settled();
    return { sends, retry };
  };
  assert.equal((await sendsUntilSettled(grpcStatus.UNAVAILABLE)).sends, 3);

  const refused = await sendsUntilSettled(grpcStatus.PERMISSION_DENIED);
  assert.equal(refused.sends, 1, "a refusal is an answer: not sent again");

  assert.equal(refused.retry.retry(report, grpcError(grpcStatus.INVALID_ARGUMENT)), false);
});

test("stop() ends the retries waiting for their turn", async () => {
  let sends = 0;
  const retry = new FailureReportRetry(async () => {
    sends++;
    return "retry";
  }, testLog(), { pauseMs: 60_000 });
  retry.retry(report, grpcError(grpcStatus.UNAVAILABLE));
  retry.stop();
  await retry.settled();
  assert.equal(sends, 0);
  assert.equal(retry.retry({ ...report, attemptId: "att_2" }, grpcError(grpcStatus.UNAVAILABLE)), false, "none after stop");
});
