import assert from "node:assert/strict";
import { test } from "node:test";
import { EnrollmentThrottle, peerAddress } from "../../coordinator/trust/enrollment-throttle.ts";
import { manualClock } from "../helpers/manual-clock.ts";

test("peerAddress drops the port of grpc-js peers, IPv4 and IPv6", () => {
  assert.equal(peerAddress("ipv4:10.0.0.5:51234"), "10.0.0.5");
  assert.equal(peerAddress("ipv6:[fe80::1]:51234"), "fe80::1");
  assert.equal(peerAddress("ipv6:[::1]"), "::1");
  assert.equal(peerAddress("unix:/tmp/x"), "unix:/tmp/x");
});

test("per address: the limit a minute, then again after the minute; the pending cap applies to everyone; memory is bounded", () => {
  const clock = manualClock(1_000_000);
  const th = new EnrollmentThrottle({ maxPending: 10, perAddressPerMinute: 2, maxAddresses: 3 }, clock.now);
  assert.equal(th.admitNewPending("a", 0), null);
  assert.equal(th.admitNewPending("a", 1), null);
  assert.match(th.admitNewPending("a", 2) ?? "", /too many approval requests from a/);
  assert.equal(th.admitNewPending("b", 2), null, "another address is not held back");
  clock.advance(60_000);
  assert.equal(th.admitNewPending("a", 3), null, "a minute later");
  assert.match(th.admitNewPending("c", 10) ?? "", /10 agents already wait/);
  // Four addresses with maxAddresses 3: the oldest is forgotten, so it may ask again.
  for (const x of ["d", "e", "f"]) assert.equal(th.admitNewPending(x, 0), null);
  assert.equal(th.admitNewPending("a", 0), null);
});
