// The dashboard page: Preact components written with htm (no build-time JSX),
// uPlot for the live watts chart. Bundled by scripts/build-dashboard.mjs and
// served by the coordinator; every update arrives over one EventSource.
import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./app.css";

const html = htm.bind(h);

const fmtEta = (s) => {
  if (!(s >= 0) || !Number.isFinite(s)) return "?";
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
};
const fmtBytes = (b) => (b == null ? "?" : `${(b / 2 ** 30).toFixed(1)} GiB`);
const fmtTime = (ms) => (ms ? new Date(ms).toLocaleString() : "");
const hue = (id) => [...(id ?? "")].reduce((a, c) => (a * 31 + c.charCodeAt(0)) % 360, 7);

function useRoute() {
  const [route, setRoute] = useState(location.hash || "#/jobs");
  useEffect(() => {
    const on = () => setRoute(location.hash || "#/jobs");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

/** One EventSource for the page: jobs, agents, notifications, and the open job. */
function useLive(jobId) {
  const [state, setState] = useState({ jobs: null, agents: null, notifications: null, job: null, error: "" });
  useEffect(() => {
    const es = new EventSource(jobId ? `/api/events?job=${encodeURIComponent(jobId)}` : "/api/events");
    const on = (name) => (e) => setState((s) => ({ ...s, [name]: JSON.parse(e.data) }));
    for (const name of ["jobs", "agents", "notifications", "job"]) es.addEventListener(name, on(name));
    es.addEventListener("error", (e) => {
      if (e.data) setState((s) => ({ ...s, error: JSON.parse(e.data).error }));
    });
    setState((s) => ({ ...s, job: null }));
    return () => es.close();
  }, [jobId]);
  return state;
}

function App({ session }) {
  const route = useRoute();
  const jobId = route.startsWith("#/job/") ? decodeURIComponent(route.slice(6)) : null;
  const live = useLive(jobId);
  const [message, setMessage] = useState("");
  const act = async (path, body) => {
    const res = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": session.csrf },
      body: JSON.stringify(body ?? {}),
    });
    const data = await res.json().catch(() => ({}));
    setMessage(res.ok ? "" : data.error ?? `HTTP ${res.status}`);
    return res.ok ? data : null;
  };
  const page = jobId
    ? html`<${JobPage} detail=${live.job} error=${live.error} session=${session} act=${act} />`
    : route === "#/agents"
      ? html`<${AgentsPage} agents=${live.agents} session=${session} act=${act} />`
      : route === "#/notifications"
        ? html`<${NotificationsPage} rows=${live.notifications} />`
        : html`<${JobsPage} jobs=${live.jobs} session=${session} act=${act} />`;
  return html`
    <header>
      <strong>nightshift</strong>
      <nav><a href="#/jobs">Jobs</a><a href="#/agents">Agents</a><a href="#/notifications">Notifications</a></nav>
      <span class="role" data-testid="role">${session.role}</span>
    </header>
    ${message ? html`<p class="error" data-testid="action-error">${message}</p>` : null}
    <main>${page}</main>`;
}

function Progress({ job }) {
  return html`<div class="progress">
    <progress data-testid="job-progress" value=${job.framesDone} max=${Math.max(1, job.framesTotal)}></progress>
    <span data-testid="job-frames">${job.framesDone}/${job.framesTotal} frames</span>
    ${job.state !== "done" && job.etaSeconds >= 0 ? html`<span class="muted">ETA ${fmtEta(job.etaSeconds)}</span>` : null}
  </div>`;
}

function JobActions({ job, session, act }) {
  const admin = session.role === "admin";
  const open = !["done", "failed", "cancelled"].includes(job.state);
  return html`<span class="actions">
    ${open && job.state !== "paused" ? html`<button data-testid="pause" onClick=${() => act(`/api/jobs/${job.id}/pause`)}>Pause</button>` : null}
    ${job.state === "paused" ? html`<button data-testid="resume" onClick=${() => act(`/api/jobs/${job.id}/resume`)}>Resume</button>` : null}
    ${admin && open ? html`<button data-testid="cancel" class="danger" onClick=${() => confirm(`Cancel ${job.name}?`) && act(`/api/jobs/${job.id}/cancel`)}>Cancel</button>` : null}
    ${admin && open
      ? html`<input type="number" min="-100" max="100" title="priority" value=${job.priority}
          onChange=${(e) => act(`/api/jobs/${job.id}/priority`, { priority: Number(e.currentTarget.value) })} />`
      : null}
  </span>`;
}

function JobsPage({ jobs, session, act }) {
  if (!jobs) return html`<p>loading…</p>`;
  if (jobs.length === 0) return html`<p>No jobs yet: <code>nightshift submit job.yaml</code></p>`;
  return html`<table class="jobs">
    <thead><tr><th>Job</th><th>State</th><th>Priority</th><th>Progress</th><th>Energy</th><th>Cost</th><th></th></tr></thead>
    <tbody>${jobs.map(
      (j) => html`<tr key=${j.id} data-testid="job-row" data-job=${j.id}>
        <td><a href="#/job/${encodeURIComponent(j.id)}">${j.name}</a><div class="muted">${j.id}</div></td>
        <td><span class="state ${j.state}" data-testid="job-state">${j.state}</span></td>
        <td>${j.priority}</td>
        <td><${Progress} job=${j} /></td>
        <td>${j.energyWh.toFixed(2)} Wh</td>
        <td>${j.cost.toFixed(4)} ${j.currency}</td>
        <td><${JobActions} job=${j} session=${session} act=${act} /></td>
      </tr>`,
    )}</tbody></table>`;
}

function JobPage({ detail, error, session, act }) {
  const [chunk, setChunk] = useState(null);
  const [log, setLog] = useState("");
  const openChunk = async (jobId, idx) => {
    setChunk(idx);
    setLog("…");
    const res = await fetch(`/api/jobs/${encodeURIComponent(jobId)}/chunks/${idx}/log`);
    setLog(await res.text());
  };
  if (error) return html`<p class="error">${error}</p>`;
  if (!detail) return html`<p>loading…</p>`;
  const { job, chunks, split, latestFrames, waitingReason } = detail;
  const shown = chunk === null ? null : chunks.find((c) => c.idx === chunk);
  return html`<section class="job">
    <h1>${job.name} <span class="state ${job.state}" data-testid="job-state">${job.state}</span></h1>
    <div class="muted">${job.id} · priority ${job.priority} · ${job.energyWh.toFixed(2)} Wh · ${job.cost.toFixed(4)} ${job.currency}</div>
    <${Progress} job=${job} />
    <${JobActions} job=${job} session=${session} act=${act} />
    ${waitingReason ? html`<p class="waiting" data-testid="waiting-reason">Waiting: ${waitingReason}</p>` : null}
    ${job.state === "failed" && job.message ? html`<p class="error">${job.message}</p>` : null}
    <h2>Chunks</h2>
    <div class="grid" data-testid="chunk-grid">${chunks.map(
      (c) => html`<button key=${c.idx} class="chunk ${c.state}" data-testid="chunk" data-state=${c.state}
        style=${c.agentId ? `--agent: hsl(${hue(c.agentId)} 60% 45%)` : ""}
        title="chunk ${c.idx}: frames ${c.frameStart}-${c.frameEnd}, ${c.state}${c.agentName ? ` on ${c.agentName}` : ""}"
        onClick=${() => openChunk(job.id, c.idx)}>${c.idx}</button>`,
    )}</div>
    ${shown
      ? html`<div class="log" data-testid="chunk-log"><strong>Chunk ${shown.idx}</strong> (frames ${shown.frameStart}-${shown.frameEnd}, ${shown.state}${shown.agentName ? `, ${shown.agentName}` : ""})
          <pre>${log}</pre></div>`
      : null}
    <h2>Latest frames</h2>
    <div class="thumbs">${latestFrames.map(
      (f) => html`<figure key=${f}><img data-testid="thumb" src="/api/jobs/${encodeURIComponent(job.id)}/frames/${f}/thumb" alt="frame ${f}" loading="lazy" /><figcaption>${f}</figcaption></figure>`,
    )}</div>
    ${job.framesDone > 0
      ? html`<h2>Contact sheet</h2><img class="sheet" data-testid="contact-sheet" src="/api/jobs/${encodeURIComponent(job.id)}/contact-sheet?v=${job.framesDone}" alt="contact sheet" />`
      : null}
    <h2>Agents on this job</h2>
    <table><thead><tr><th>Agent</th><th>Frames</th><th>Energy</th><th>Frames/s</th></tr></thead>
      <tbody>${split.map(
        (a) => html`<tr key=${a.agentId}><td><span class="swatch" style="--agent: hsl(${hue(a.agentId)} 60% 45%)"></span>${a.name}</td><td>${a.frames}</td><td>${a.energyWh.toFixed(2)} Wh</td><td>${a.framesPerSecond}</td></tr>`,
      )}</tbody></table>
  </section>`;
}

function WattsChart({ series }) {
  const ref = useRef(null);
  const plot = useRef(null);
  const data = [series.map((p) => p[0] / 1000), series.map((p) => p[1])];
  useEffect(() => {
    plot.current = new uPlot(
      { width: 320, height: 120, legend: { show: false }, scales: { x: { time: true } }, series: [{}, { label: "W", stroke: "#f5a623", width: 2 }], axes: [{ stroke: "#aaa" }, { stroke: "#aaa" }] },
      data,
      ref.current,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => plot.current?.setData(data), [series]);
  return html`<div class="chart" ref=${ref}></div>`;
}

function AgentsPage({ agents, session, act }) {
  const [token, setToken] = useState(null);
  if (!agents) return html`<p>loading…</p>`;
  const admin = session.role === "admin";
  const pending = agents.filter((a) => a.state === "pending" || a.state === "discovered");
  const working = agents.filter((a) => a.state !== "pending" && a.state !== "discovered" && a.state !== "removed");
  return html`<section>
    ${admin
      ? html`<p><button data-testid="create-token" onClick=${async () => setToken(await act("/api/tokens"))}>Create join token</button>
          ${token ? html` <code data-testid="join-token">nightshift agent --join-token ${token.token} --ca-fingerprint ${token.caFingerprint}</code>` : null}</p>`
      : null}
    ${pending.length > 0
      ? html`<h2>Waiting for approval</h2><table><tbody>${pending.map(
          (a) => html`<tr key=${a.id} data-testid="pending-agent"><td>${a.name}</td><td class="muted">${a.id} ${a.address}</td>
            <td>${admin ? html`<button onClick=${() => act(`/api/agents/${a.id}/approve`)}>Approve</button><button class="danger" onClick=${() => act(`/api/agents/${a.id}/remove`)}>Remove</button>` : "an admin approves it"}</td></tr>`,
        )}</tbody></table>`
      : null}
    <div class="cards">${working.map(
      (a) => html`<div class="card" key=${a.id} data-testid="agent-card">
        <h3>${a.name} <span class="state ${a.state}">${a.state}</span> ${a.status ? html`<span class="muted">${a.status}</span>` : null}</h3>
        ${a.note ? html`<p class="waiting">${a.note}</p>` : null}
        <ul>${a.gpus.map((g) => html`<li>${g.name}: ${fmtBytes(g.vramUsedBytes)} of ${fmtBytes(g.vramBytes)} VRAM</li>`)}</ul>
        <ul data-testid="agent-kinds">${a.kinds.map((k) => html`<li>${k.kind} ${k.version}${k.down ? html` <span class="waiting">down</span>` : null}${k.devices.map((d) => html`<br /><span class="muted">${d.name}: ${fmtBytes(d.vramTotal)} VRAM, ${fmtBytes(d.vramFree)} free at join</span>`)}</li>`)}</ul>
        <p>${a.watts == null ? "power unknown" : `${a.watts.toFixed(0)} W`} <span class="muted">${a.energySource}</span> · ${a.framesPerSecond} frames/s</p>
        <${WattsChart} series=${a.wattsSeries} />
        <p>${a.running
          ? html`running <a href="#/job/${encodeURIComponent(a.running.jobId)}">${a.running.chunkId}</a> <progress value=${a.running.framesDone} max=${Math.max(1, a.running.framesTotal)}></progress> ${a.running.framesDone}/${a.running.framesTotal}`
          : "idle"}</p>
        ${admin ? html`<button class="danger" onClick=${() => confirm(`Remove ${a.name}?`) && act(`/api/agents/${a.id}/remove`)}>Remove</button>` : null}
      </div>`,
    )}</div>
  </section>`;
}

function NotificationsPage({ rows }) {
  if (!rows) return html`<p>loading…</p>`;
  if (rows.length === 0) return html`<p>No notifications yet. Webhooks are set in the coordinator's config (<code>webhooks:</code>).</p>`;
  return html`<table data-testid="notifications"><thead><tr><th>Event</th><th>Webhook</th><th>State</th><th>Tries</th><th>Last error</th><th>Queued</th><th>Delivered</th></tr></thead>
    <tbody>${rows.map(
      (r) => html`<tr key=${r.id}><td>${r.event}</td><td>${r.url}</td><td><span class="state ${r.state}">${r.state}</span></td><td>${r.attempts}</td><td>${r.lastError}</td><td>${fmtTime(r.createdAtMs)}</td><td>${fmtTime(r.deliveredAtMs)}</td></tr>`,
    )}</tbody></table>`;
}

const res = await fetch("/api/session");
const root = document.getElementById("app");
if (res.ok) render(html`<${App} session=${await res.json()} />`, root);
else root.textContent = "Not logged in: open a login link from `nightshift dashboard`.";
