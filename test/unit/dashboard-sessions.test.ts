import { test } from "node:test";
import assert from "node:assert/strict";
import { DashboardSessions, parseRole } from "../../coordinator/dashboard/dashboard-sessions.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { isBadInput } from "../../shared/errors.ts";

test("a login token becomes one session, once", () => {
  const clock = manualClock();
  const s = new DashboardSessions(clock.now, 60_000, 3_600_000);
  const { token } = s.createLogin("viewer");
  const made = s.exchange(token);
  assert.ok(made);
  assert.equal(made.session.role, "viewer");
  assert.equal(s.get(made.id)?.csrf, made.session.csrf);
  assert.equal(s.exchange(token), undefined, "a used token is refused");
  assert.equal(s.get("not-a-session"), undefined);
  assert.equal(s.get(undefined), undefined);
});

test("login tokens and sessions expire; a session can be ended", () => {
  const clock = manualClock();
  const s = new DashboardSessions(clock.now, 60_000, 3_600_000);
  const late = s.createLogin("admin").token;
  clock.advance(60_001);
  assert.equal(s.exchange(late), undefined, "an expired login token is refused");
  const made = s.exchange(s.createLogin("admin").token);
  assert.ok(made);
  clock.advance(3_599_000);
  assert.equal(s.get(made.id)?.role, "admin");
  clock.advance(1001);
  assert.equal(s.get(made.id), undefined, "an expired session is gone");
  const other = s.exchange(s.createLogin("viewer").token);
  assert.ok(other);
  s.end(other.id);
  assert.equal(s.get(other.id), undefined);
});

test("roles are viewer or admin; anything else names the field", () => {
  assert.equal(parseRole("viewer"), "viewer");
  assert.equal(parseRole("admin"), "admin");
  assert.throws(() => parseRole("owner"), (e) => isBadInput(e) && /role/.test((e as Error).message));
});
