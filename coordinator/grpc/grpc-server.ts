import { Server, ServerCredentials, type ServerInterceptor, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { AgentGatewayService, type AgentGatewayServer } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { ControlService, type ControlServer } from "../../proto/gen/nightshift/v1/control.ts";
import type { ResultSinkServer } from "../../proto/gen/nightshift/v1/sink.ts";
import { UPLOAD_SERVICE } from "../../shared/upload-codec.ts";
import { GRPC_SERVER_OPTIONS } from "../../shared/grpc-options.ts";

export interface GrpcServices {
  control: ControlServer;
  sink: ResultSinkServer;
  gateway: AgentGatewayServer;
  /** More services on the same port (the admin service of coordinator/trust/). */
  extra?: Array<{ definition: ServiceDefinition; implementation: UntypedServiceImplementation }>;
}

/** Starts the coordinator's gRPC server; resolves with the bound port. */
export async function startGrpcServer(
  host: string,
  port: number,
  services: GrpcServices,
  credentials: ServerCredentials = ServerCredentials.createInsecure(),
  /** Run on every call before the handler (the peer guard that checks who is calling). */
  interceptors: ServerInterceptor[] = [],
): Promise<{ server: Server; port: number }> {
  const server = new Server({ ...GRPC_SERVER_OPTIONS, interceptors });
  server.addService(ControlService, services.control);
  server.addService(UPLOAD_SERVICE, services.sink);
  server.addService(AgentGatewayService, services.gateway);
  for (const s of services.extra ?? []) server.addService(s.definition, s.implementation);
  const bound = await new Promise<number>((resolve, reject) => {
    const addr = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    server.bindAsync(addr, credentials, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, port: bound };
}

/** Graceful shutdown with a deadline, then force. */
export async function stopGrpcServer(server: Server, graceMs = 3000): Promise<void> {
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
