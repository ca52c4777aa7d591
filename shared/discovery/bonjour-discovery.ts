import { Bonjour, type Browser, type Service } from "bonjour-service";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import type { Advertisement, BrowseHandle, DiscoveredService, Discovery, ServiceAdvert } from "./discovery.ts";

/**
 * Discovery over mDNS/DNS-SD with bonjour-service (pure TypeScript, no avahi
 * or Apple SDK needed). With `interfaceIp` the multicast group is joined on
 * that interface only, and the socket is bound to 0.0.0.0: bound to the
 * unicast address, Linux never delivers multicast to it (see LAN.md).
 * Without `interfaceIp` every LAN interface is used (production default);
 * tests must always pass an interface inside a namespace they created.
 */

export interface BonjourDiscoveryOptions {
  readonly interfaceIp?: string;
  readonly log?: Logger;
  /** How often browsers ask again and drop expired records. Default 30 s. */
  readonly requeryIntervalMs?: number;
}

export class BonjourDiscovery implements Discovery {
  private readonly bonjour: Bonjour;
  private readonly log: Logger;
  private readonly requeryIntervalMs: number;
  private readonly browsers = new Set<{ browser: Browser; timer: NodeJS.Timeout }>();
  private stopped: Promise<void> | undefined;

  constructor(options: BonjourDiscoveryOptions = {}) {
    this.log = options.log ?? silentLogger();
    this.requeryIntervalMs = options.requeryIntervalMs ?? 30_000;
    const mdnsOptions = options.interfaceIp === undefined ? {} : { interface: options.interfaceIp, bind: "0.0.0.0" };
    // bonjour-service passes its first argument to multicast-dns; its typing only names service fields.
    this.bonjour = new Bonjour(mdnsOptions as ConstructorParameters<typeof Bonjour>[0], (err: unknown) => {
      this.log.warn({ err }, "mdns socket error");
    });
  }

  advertise(advert: ServiceAdvert): Advertisement {
    this.assertRunning();
    const service = this.bonjour.publish({
      name: advert.name,
      type: advert.type,
      port: advert.port,
      txt: { ...advert.txt },
      ...(advert.host === undefined ? {} : { host: advert.host }),
    });
    service.on("error", (err: unknown) => this.log.warn({ err, name: advert.name }, "mdns advertisement failed"));
    let stopping: Promise<void> | undefined;
    return {
      stop: () => {
        stopping ??= new Promise<void>((resolve) => service.stop(() => resolve()));
        return stopping;
      },
    };
  }

  browse(
    type: string,
    onUp: (service: DiscoveredService) => void,
    onDown: (service: DiscoveredService) => void,
  ): BrowseHandle {
    this.assertRunning();
    const browser = this.bonjour.find({ type, protocol: "tcp" });
    const deliver = (handler: (s: DiscoveredService) => void) => (service: Service) => {
      try {
        handler(toDiscovered(service));
      } catch (err) {
        this.log.error({ err, name: service.name }, "discovery handler failed");
      }
    };
    browser.on("up", deliver(onUp));
    browser.on("txt-update", deliver(onUp));
    browser.on("down", deliver(onDown));
    const timer = setInterval(() => {
      browser.expire();
      browser.update();
    }, this.requeryIntervalMs);
    timer.unref();
    const entry = { browser, timer };
    this.browsers.add(entry);
    return {
      stop: () => {
        clearInterval(timer);
        browser.stop();
        this.browsers.delete(entry);
      },
    };
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      for (const { browser, timer } of this.browsers) {
        clearInterval(timer);
        browser.stop();
      }
      this.browsers.clear();
      await new Promise<void>((resolve) => this.bonjour.unpublishAll(() => resolve()));
      await new Promise<void>((resolve) => this.bonjour.destroy(() => resolve()));
    })();
    return this.stopped;
  }

  private assertRunning(): void {
    if (this.stopped !== undefined) throw new Error("discovery already stopped");
  }
}

function toDiscovered(service: Service): DiscoveredService {
  return {
    name: service.name,
    type: service.type,
    port: service.port,
    host: service.host,
    addresses: [...(service.addresses ?? [])],
    referer: service.referer?.address,
    txt: (service.txt ?? {}) as Record<string, unknown>,
  };
}
