import type { Store } from "../store/store.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { DiscoveredService } from "../../shared/discovery/discovery.ts";
import { parseAgentTxt } from "../../shared/discovery/txt-records.ts";
import { cleanName } from "../trust/enrollment-service.ts";

const MIB = 1024 * 1024;

export interface SightingHooks {
  /** The agent said goodbye and its heartbeats stopped: mark it offline, requeue its chunks. */
  markOffline(agentId: string, reason: string): void;
}

/**
 * What the coordinator learns from agents' mDNS adverts. Anyone can
 * advertise, so an advert only ever creates or refreshes a `discovered` row
 * (no work, no credentials); it never changes an enrolled agent. A goodbye
 * marks an online agent offline only when its heartbeats (which are
 * authenticated, NATS per-agent users) have stopped too, so a forged goodbye
 * cannot knock a live agent off the farm.
 */
export class AgentSightings {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: Store,
    private readonly heartbeatMs: number,
    private readonly hooks: SightingHooks,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  up(service: DiscoveredService): void {
    const parsed = parseAgentTxt(service.txt);
    if (!parsed.ok) {
      this.log.debug({ name: service.name, reason: parsed.reason }, "agent advert ignored");
      return;
    }
    const a = parsed.value;
    const host = service.referer ?? service.addresses[0] ?? service.host;
    const address = `${host.includes(":") ? `[${host}]` : host}:${a.port}`;
    const row = this.store.agents.get(a.id);
    if (row && row.state !== "discovered") {
      this.log.info({ agentId: a.id, name: row.name, state: row.state, address }, "agent advertised");
      return;
    }
    this.store.agents.upsert({
      id: a.id,
      name: cleanName(a.name) || a.id,
      version: "",
      gpus: a.gpus.map((g) => ({ name: g.name, vramBytes: g.vramMiB * MIB })),
      ramBytes: 0,
      cpuCount: 0,
      tags: [],
      kinds: [],
      address,
      state: "discovered",
      now: this.clock(),
    });
    if (!row) this.log.info({ agentId: a.id, name: a.name, address, gpus: a.gpuCount }, "agent discovered");
  }

  down(service: DiscoveredService): void {
    const parsed = parseAgentTxt(service.txt);
    const id = parsed.ok ? parsed.value.id : service.name.replace(/^nightshift-agent-/, "");
    const row = this.store.agents.get(id);
    if (!row || row.state !== "online") return;
    const lastSeen = row.lastSeen;
    const grace = Math.round(this.heartbeatMs * 1.5);
    const decide = (): void => {
      const now = this.store.agents.get(id);
      if (now?.state !== "online" || now.lastSeen !== lastSeen) {
        this.log.info({ agentId: id, name: row.name }, "mDNS goodbye ignored: heartbeats still arrive");
        return;
      }
      this.hooks.markOffline(id, `agent ${row.name} said goodbye`);
    };
    const wait = lastSeen + grace - this.clock();
    if (wait <= 0) return decide();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      decide();
    }, wait);
    timer.unref();
    this.timers.add(timer);
  }

  /** Forgets discovered-only agents silent for `ttlMs` (anyone can advertise: such rows must not pile up forever). */
  expireStale(ttlMs: number): string[] {
    const gone = this.store.agents.deleteStaleDiscovered(this.clock() - ttlMs);
    if (gone.length > 0) this.log.info({ agents: gone.length, ttlMs }, "discovered agents expired: no advert for too long");
    return gone;
  }

  /** Runs expireStale every min(ttl/4, 1 min) until stop(). */
  startExpiry(ttlMs: number): void {
    const timer = setInterval(() => this.expireStale(ttlMs), Math.min(Math.max(1000, ttlMs / 4), 60_000));
    timer.unref();
    this.timers.add(timer);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
