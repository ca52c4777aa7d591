/** The dashboard's listen address, compiled once: loopback stays plain HTTP, anything else (the LAN) is HTTPS. */
import { parseHostPort } from "../../shared/host-port.ts";

export interface HttpListen {
  host: string;
  port: number;
  /** True unless the host is a loopback address: the page is then served with a certificate from the studio CA. */
  tls: boolean;
}

export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function compileHttpListen(text: string): HttpListen {
  const { host, port } = parseHostPort(text, "httpListen");
  return { host, port, tls: !isLoopbackHost(host) };
}
