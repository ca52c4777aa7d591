/**
 * The dashboard in a real browser (Debian's chromium-headless-shell, driven by
 * playwright-core): log in with a one-time link, pause and resume a job with
 * the buttons (checked in the coordinator), watch its progress reach done
 * without a reload, see thumbnails and the contact sheet, and see requests
 * without a session or from another origin refused.
 * DASHBOARD_SCREENSHOT=docs/dashboard-job.png also saves the job page.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import sharp from "sharp";
import { generatedJob, startTestCoordinator, tempDir, waitUntil } from "../support/farm.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { SESSION_COOKIE } from "../../coordinator/dashboard/dashboard-app.ts";

const CHROMIUM = process.env.NIGHTSHIFT_CHROMIUM ?? "/usr/bin/chromium-headless-shell";
/** Polls `expression` in the page (the page's CSP forbids waitForFunction's string eval). */
async function pageUntil(page: Page, expression: string, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install chromium-headless-shell)`;

test("dashboard: log in, pause and resume, live progress to done, thumbnails, refusals", { skip, timeout: 150_000 }, async (t) => {
  const dir = tempDir(t, "ns-dash-");
  const c = await startTestCoordinator(t, dir);
  const jobId = (await c.api.submit(JSON.stringify(generatedJob("night-grade", 48, 96, 64, 4)), dir)).jobId;

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  // Bounded: a browser that does not close in time is left to the process's exit.
  t.after(() => Promise.race([browser.close(), new Promise((r) => setTimeout(r, 10_000).unref())]));
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await context.newPage();

  // A request with no session: refused, page and API alike.
  const anonymous = await fetch(`${c.dashboard.url}api/jobs`);
  assert.equal(anonymous.status, 401);
  assert.equal((await fetch(c.dashboard.url)).status, 401);

  // Log in with the link: the token becomes an HttpOnly, SameSite=Strict cookie, and the link works once.
  const link = c.dashboard.loginLink("viewer").url;
  await page.goto(link);
  await page.getByTestId("role").filter({ hasText: "viewer" }).waitFor();
  const cookie = (await context.cookies()).find((k) => k.name === SESSION_COOKIE);
  assert.ok(cookie, "session cookie set");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.ok(cookie.expires > Date.now() / 1000, "the cookie expires");
  assert.equal((await fetch(link, { redirect: "manual" })).status, 401, "a used link is refused");

  // The job page, before any agent: it waits and says why.
  await page.goto(`${c.dashboard.url}#/job/${jobId}`);
  await page.getByTestId("waiting-reason").waitFor();
  await page.evaluate("window.notReloaded = true");

  // Pause and resume with the buttons; the coordinator's state follows.
  await page.getByTestId("pause").click();
  await waitUntil(() => c.api.job(jobId).state === "paused", 10_000, "job paused in the coordinator");
  await page.getByTestId("job-state").filter({ hasText: "paused" }).waitFor();
  await page.getByTestId("resume").click();
  await waitUntil(() => c.api.job(jobId).state !== "paused", 10_000, "job resumed in the coordinator");
  assert.equal(c.store.jobs.get(jobId)?.pauseReason ?? null, null);

  // Record every progress text the page shows while the agent renders.
  // (Browser code as text: it runs in the page, where tsx's helpers do not exist.)
  await page.evaluate(`
    window.seen = new Set();
    const note = () => {
      const el = document.querySelector('[data-testid="job-frames"]');
      if (el && el.textContent) window.seen.add(el.textContent);
    };
    note();
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
  `);
  await startLocalAgent(t, c, dir, "dash-agent");
  await page.getByTestId("job-state").filter({ hasText: "done" }).waitFor({ timeout: 120_000 });
  await page.getByTestId("job-frames").filter({ hasText: "48/48 frames" }).waitFor();
  const seen = (await page.evaluate("[...window.seen]")) as string[];
  assert.ok(seen.includes("0/48 frames") && seen.includes("48/48 frames"), `progress seen: ${seen.join(", ")}`);
  assert.equal(await page.evaluate("window.notReloaded"), true, "the page was not reloaded");

  // Thumbnails: small JPEGs made by the coordinator, never the full frame.
  const thumb = page.getByTestId("thumb").first();
  await thumb.waitFor();
  await pageUntil(page, `(() => { const i = document.querySelector('[data-testid="thumb"]'); return i && i.complete && i.naturalWidth > 0 && i.naturalWidth <= 256; })()`, "thumbnail loaded");
  const src = await thumb.getAttribute("src");
  const res = await context.request.get(new URL(src ?? "", c.dashboard.url).toString());
  assert.equal(res.headers()["content-type"], "image/jpeg");
  const sheet = page.getByTestId("contact-sheet");
  await sheet.waitFor();
  await pageUntil(page, `(() => { const i = document.querySelector('[data-testid="contact-sheet"]'); return i && i.complete && i.naturalWidth > 0; })()`, "contact sheet loaded");
  const chunks = (await page.evaluate(`[...document.querySelectorAll('[data-testid="chunk"]')].map((e) => e.getAttribute("data-state"))`)) as string[];
  assert.equal(chunks.length, 12);
  assert.ok(chunks.every((s) => s === "done"), chunks.join(","));
  // Each chunk's log, on a click: its attempt, the agent, the outcome.
  await page.getByTestId("chunk").first().click();
  await page.getByTestId("chunk-log").filter({ hasText: /on dash-agent: committed/ }).waitFor();
  if (process.env.DASHBOARD_SCREENSHOT) {
    // The README's picture: a palette PNG keeps it small.
    await sharp(await page.screenshot({ fullPage: false })).png({ palette: true, colours: 96 }).toFile(process.env.DASHBOARD_SCREENSHOT);
  }

  // State-changing requests: a forged cross-site Origin, or no CSRF token, is refused even with the session cookie.
  const jar = `${SESSION_COOKIE}=${cookie.value}`;
  const csrf = ((await (await fetch(`${c.dashboard.url}api/session`, { headers: { cookie: jar } })).json()) as { csrf: string }).csrf;
  const own = c.dashboard.url.replace(/\/$/, "");
  const pause = (headers: Record<string, string>) => fetch(`${c.dashboard.url}api/jobs/${jobId}/pause`, { method: "POST", headers: { cookie: jar, ...headers } });
  assert.equal((await pause({ origin: "http://evil.example", "x-csrf-token": csrf })).status, 403);
  assert.equal((await pause({ "x-csrf-token": csrf })).status, 403, "no Origin header");
  assert.equal((await pause({ origin: own })).status, 403, "no CSRF token");
  assert.equal((await pause({ origin: own, "x-csrf-token": "x".repeat(csrf.length) })).status, 403, "wrong CSRF token");
  // A viewer may not do an admin's work.
  assert.equal((await fetch(`${c.dashboard.url}api/tokens`, { method: "POST", headers: { cookie: jar, origin: own, "x-csrf-token": csrf } })).status, 403);
  // And from inside the page, a script of another origin cannot reach it: a fetch from about:blank carries no cookie.
  const other = await context.newPage();
  const status = (await other.evaluate(`fetch(${JSON.stringify(`${c.dashboard.url}api/jobs/${jobId}/cancel`)}, { method: "POST", credentials: "include" }).then((r) => r.status, () => -1)`)) as number;
  assert.ok(status === -1 || status === 401 || status === 403, `cross-site fetch got ${status}`);
  assert.equal(c.api.job(jobId).state, "done");

  // An admin sees the agent with its GPU and makes a join token from the page.
  const admin = await (await browser.newContext()).newPage();
  await admin.goto(c.dashboard.loginLink("admin").url);
  await admin.getByTestId("role").filter({ hasText: "admin" }).waitFor();
  await admin.goto(`${c.dashboard.url}#/agents`);
  await admin.getByTestId("agent-card").filter({ hasText: "dash-agent" }).waitFor();
  // Each step kind the agent offers, with its tool's version (ComfyUI's devices and VRAM too, where it reports them).
  await admin.getByTestId("agent-card").filter({ hasText: "dash-agent" }).getByTestId("agent-kinds").filter({ hasText: /model \d+\.\d+/ }).waitFor();
  await admin.getByTestId("create-token").click();
  const line = (await admin.getByTestId("join-token").textContent()) ?? "";
  const token = /--join-token (\S+)/.exec(line)?.[1] ?? "";
  assert.ok(c.trust.tokens.create !== undefined && token.startsWith("nsj_"), line);
  assert.match(line, new RegExp(`--ca-fingerprint ${c.trust.caFingerprint}`));
});
