import { Server, ServerCredentials, type ServerInterceptor, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { AgentGatewayService, type AgentGatewayServer } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { ControlService, type ControlServer } from "../../proto/gen/nightshift/v1/control.ts";
import type { ResultSinkServer } from "../../proto/gen/nightshift/v1/sink.ts";
import { UPLOAD_SERVICE } from "../../shared/upload-codec.ts";
import { GRPC_SERVER_OPTIONS } from "../../shared/grpc-options.ts";
import type { ServerTlsMaterial } from "../../shared/tls/grpc-credentials.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { startTlsFront, type TlsFront, type TlsFrontLimits } from "./tls-front.ts";
import { widenReceiveWindow } from "./http2-receive-window.ts";

export interface GrpcServices {
  control: ControlServer;
  sink: ResultSinkServer;
  gateway: AgentGatewayServer;
  /** More services on the same port (the admin service of coordinator/trust/). */
  extra?: Array<{ definition: ServiceDefinition; implementation: UntypedServiceImplementation }>;
}

/**
 * TLS through the coordinator's own front (coordinator/grpc/tls-front.ts):
 * handshake deadline, per-address cap, refusals logged once a minute.
 */
export interface FrontedTls {
  readonly tls: ServerTlsMaterial;
  readonly requireClientCertificate: boolean;
  readonly limits?: Partial<TlsFrontLimits>;
  readonly log: Logger;
  readonly clock: Clock;
}

const fronts = new WeakMap<Server, TlsFront>();

/** Starts the coordinator's gRPC server; resolves with the bound port. */
export async function startGrpcServer(
  host: string,
  port: number,
  services: GrpcServices,
  credentials: ServerCredentials | FrontedTls = ServerCredentials.createInsecure(),
  /** Run on every call before the handler (the peer guard that checks who is calling). */
  interceptors: ServerInterceptor[] = [],
): Promise<{ server: Server; port: number }> {
  const server = new Server({ ...GRPC_SERVER_OPTIONS, interceptors });
  server.addService(ControlService, services.control);
  server.addService(UPLOAD_SERVICE, services.sink);
  server.addService(AgentGatewayService, services.gateway);
  for (const s of services.extra ?? []) server.addService(s.definition, s.implementation);
  return { server, port: await listen(server, host, port, credentials) };
}

/** Binds `server` to host:port, with grpc-js's own listener or behind the TLS front. */
export async function listen(server: Server, host: string, port: number, credentials: ServerCredentials | FrontedTls): Promise<number> {
  if (!(credentials instanceof ServerCredentials)) {
    // The front has done TLS (and checked the client certificate); grpc-js reads the peer certificate from the socket.
    const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
    if (!widenReceiveWindow(server)) credentials.log.warn({}, "grpc-js does not expose its http2 servers: uploads keep the 64 KiB HTTP/2 receive window");
    const front = await startTlsFront({ host, port, injector, ...credentials });
    fronts.set(server, front);
    return front.port;
  }
  return new Promise<number>((resolve, reject) => {
    const addr = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    server.bindAsync(addr, credentials, (err, p) => {
      if (err) return reject(err);
      widenReceiveWindow(server);
      resolve(p);
    });
  });
}

/** Graceful shutdown with a deadline, then force. */
export async function stopGrpcServer(server: Server, graceMs = 3000): Promise<void> {
  await fronts.get(server)?.close();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
