/**
 * The dashboard's HTTP routes (Hono): log-in by one-time link, the page and
 * its bundled assets, JSON views, live updates by server-sent events, frame
 * thumbnails, and the actions. Thin: every handler calls one domain function
 * (DashboardViews, ControlApi, the enrollment service, join tokens); access
 * rules (session, role, same origin plus CSRF token) are middleware here.
 */
import { timingSafeEqual } from "node:crypto";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import { isBadInput } from "../../shared/errors.ts";
import { NotFoundError } from "../grpc/grpc-errors.ts";
import { watchJob } from "../control/job-watch.ts";
import type { DashboardRole, DashboardSession, DashboardSessions } from "./dashboard-sessions.ts";
import type { DashboardActions } from "./dashboard-actions.ts";
import type { DashboardViews } from "./dashboard-views.ts";
import type { DashboardAssets } from "./dashboard-assets.ts";
import type { EventEmitter } from "node:events";

export const SESSION_COOKIE = "ns_session";
const CSRF_HEADER = "x-csrf-token";

export interface DashboardAppDeps {
  sessions: DashboardSessions;
  views: DashboardViews;
  actions: DashboardActions;
  assets: DashboardAssets;
  /** Emits "changed" (jobId) on every job change (the job finisher). */
  jobChanges: EventEmitter;
  /** Host header values this server answers to (DNS rebinding guard). */
  allowedHosts: ReadonlySet<string>;
  secure: boolean;
  /** How often the live stream re-reads the farm, at most (ms). */
  tickMs: number;
}

type Env = { Variables: { session: DashboardSession } };

const ROLE_RANK: Record<DashboardRole, number> = { viewer: 0, admin: 1 };

export function dashboardApp(d: DashboardAppDeps): Hono<Env> {
  const app = new Hono<Env>();

  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        styleSrc: ["'self'"],
        scriptSrc: ["'self'"],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
      },
      xFrameOptions: "DENY",
    }),
  );

  // A page that answers to any Host could be reached through DNS rebinding: only known names.
  app.use(async (c, next) => {
    const host = (c.req.header("host") ?? "").toLowerCase();
    if (!d.allowedHosts.has(host)) return c.text(`unknown host '${host}'\n`, 421);
    return next();
  });

  app.get("/login", (c) => {
    const token = c.req.query("token") ?? "";
    const made = token ? d.sessions.exchange(token) : undefined;
    if (!made) return c.text("this login link is unknown, used or expired: ask for a new one with `nightshift dashboard`\n", 401);
    setCookie(c, SESSION_COOKIE, made.id, {
      httpOnly: true,
      sameSite: "Strict",
      secure: d.secure,
      path: "/",
      maxAge: Math.floor((made.session.expiresAt - Date.now()) / 1000),
    });
    return c.redirect("/", 303);
  });

  // Everything below needs a session; state-changing requests also need the same origin and the CSRF token.
  app.use(async (c, next) => {
    const session = d.sessions.get(getCookie(c, SESSION_COOKIE));
    if (!session) return c.json({ error: "no session: open a login link from `nightshift dashboard`" }, 401);
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const scheme = d.secure ? "https" : "http";
      const origin = c.req.header("origin");
      if (origin !== `${scheme}://${c.req.header("host")}`) return c.json({ error: "cross-site request refused" }, 403);
      if (!sameSecret(c.req.header(CSRF_HEADER) ?? "", session.csrf)) return c.json({ error: "missing or wrong CSRF token" }, 403);
    }
    c.set("session", session);
    return next();
  });

  app.onError((err, c) => {
    if (err instanceof NotFoundError) return c.json({ error: err.message }, 404);
    if (isBadInput(err) || (err as Error).name === "IllegalTransitionError") return c.json({ error: (err as Error).message }, 400);
    return c.json({ error: (err as Error).message }, 500);
  });

  app.get("/", (c) => c.html(d.assets.indexHtml()));
  app.get("/assets/:file", (c) => {
    const a = d.assets.file(c.req.param("file"));
    return a ? c.body(a.body, 200, { "content-type": a.type, "cache-control": "no-cache" }) : c.notFound();
  });
  app.post("/logout", (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    if (id) d.sessions.end(id);
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.json({ ok: true });
  });

  app.get("/api/session", (c) => c.json({ role: c.get("session").role, csrf: c.get("session").csrf }));
  app.get("/api/jobs", (c) => c.json(d.views.jobs()));
  app.get("/api/jobs/:id", (c) => c.json(d.views.job(c.req.param("id"))));
  app.get("/api/jobs/:id/chunks/:chunk/log", (c) => c.text(d.views.chunkLog(c.req.param("id"), Number(c.req.param("chunk")))));
  app.get("/api/agents", (c) => c.json(d.views.agents()));
  app.get("/api/notifications", (c) => c.json(d.views.notifications()));
  app.get("/api/jobs/:id/frames/:frame/thumb", async (c) => jpeg(c, await d.actions.thumbnail(c.req.param("id"), Number(c.req.param("frame")))));
  app.get("/api/jobs/:id/contact-sheet", async (c) => jpeg(c, await d.actions.contactSheet(c.req.param("id"))));

  /** A POST action allowed from `role` up; `id` is the path's :id (empty when it has none). */
  const post = (path: string, role: DashboardRole, fn: (id: string, c: Context<Env>) => Promise<unknown> | unknown): void => {
    app.post(path, async (c) => {
      if (ROLE_RANK[c.get("session").role] < ROLE_RANK[role]) return c.json({ error: `needs the ${role} role` }, 403);
      return c.json(await fn(c.req.param("id") ?? "", c));
    });
  };
  post("/api/jobs/:id/pause", "viewer", (id) => d.actions.pause(id));
  post("/api/jobs/:id/resume", "viewer", (id) => d.actions.resume(id));
  post("/api/jobs/:id/cancel", "admin", (id) => d.actions.cancel(id));
  post("/api/jobs/:id/priority", "admin", async (id, c) => d.actions.setPriority(id, Number(((await c.req.json()) as { priority?: unknown }).priority)));
  post("/api/agents/:id/approve", "admin", (id) => d.actions.approve(id));
  post("/api/agents/:id/remove", "admin", (id) => d.actions.remove(id));
  post("/api/tokens", "admin", () => d.actions.createJoinToken());

  // Live: the farm's lists on every change (and a tick), and one job followed by the shared job watch.
  app.get("/api/events", (c) => {
    const jobId = c.req.query("job");
    const session = c.get("session");
    return streamSSE(c, async (stream) => {
      const last = new Map<string, string>();
      let queue = Promise.resolve();
      const send = (event: string, data: unknown): void => {
        const text = JSON.stringify(data);
        if (last.get(event) === text) return;
        last.set(event, text);
        queue = queue.then(() => stream.writeSSE({ event, data: text })).catch(() => undefined);
      };
      const farm = (): void => {
        send("jobs", d.views.jobs());
        send("agents", d.views.agents());
        send("notifications", d.views.notifications());
      };
      let pending: NodeJS.Timeout | undefined;
      const soon = (): void => {
        pending ??= setTimeout(() => {
          pending = undefined;
          farm();
        }, 100);
      };
      d.jobChanges.on("changed", soon);
      const timer = setInterval(farm, d.tickMs);
      const stopJob = jobId
        ? watchJob({ view: (id) => withState(d.views.job(id)), changes: d.jobChanges }, jobId, {
            onView: (v) => send("job", v),
            onEnd: (err) => (err ? send("error", { error: err.message }) : undefined),
          }, d.tickMs)
        : () => undefined;
      farm();
      await new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        // A session that expires ends its stream too.
        setTimeout(resolve, Math.max(0, session.expiresAt - Date.now())).unref();
      });
      clearInterval(timer);
      clearTimeout(pending);
      d.jobChanges.off("changed", soon);
      stopJob();
    });
  });

  return app;
}

const withState = (v: ReturnType<DashboardViews["job"]>) => ({ ...v, state: v.job.state });

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function jpeg(c: Context<Env>, data: Buffer): Response {
  return c.body(new Uint8Array(data), 200, { "content-type": "image/jpeg", "cache-control": "private, max-age=60" });
}
