/**
 * Why this file exists: grpc-js leaves the HTTP/2 sessions of a server at
 * Node's default receive window, 64 KiB per stream and per connection (it
 * reads `grpc-node.flow_control_window` only on the client; grpc/grpc-node
 * pull request 3058 adds it to the server). A frame upload then stops every
 * 64 KiB until the coordinator's event loop has read the data and sent a
 * WINDOW_UPDATE, and the agent's process has been scheduled to read that:
 * two processes taking turns, each idle about half the time. This raises both
 * windows on every session grpc-js accepts, through the public 'session'
 * event of the http2 servers grpc-js made (for its own listeners and for the
 * TLS front's connection injector). Reaching those servers reads one private
 * field of grpc-js's Server (`http2Servers`, grpc-js 1.14); where it is
 * missing (another version), nothing changes and the caller is told.
 *
 * Memory stays bounded: the sink reads a stream message by message and
 * grpc-js stops reading a stream whose message is not yet wanted, so an
 * unread stream holds at most its window, and one connection at most the
 * connection window.
 */
import type { Http2Server, Http2Session } from "node:http2";
import type { Server } from "@grpc/grpc-js";

export interface ReceiveWindow {
  /** The HTTP/2 stream-level initial window the server advertises (SETTINGS_INITIAL_WINDOW_SIZE). */
  readonly streamBytes: number;
  /** The connection-level window (one WINDOW_UPDATE on stream 0 when the session starts). */
  readonly connectionBytes: number;
}

/** 4 MiB per upload stream and per connection: a 1 MiB frame never waits for a window update. */
export const DEFAULT_RECEIVE_WINDOW: ReceiveWindow = { streamBytes: 4 * 1024 * 1024, connectionBytes: 4 * 1024 * 1024 };

const hooked = new WeakSet<object>();

/** Applies `w` to a session grpc-js has just accepted. */
export function widenSession(session: Http2Session, w: ReceiveWindow): void {
  if (session.destroyed) return;
  session.setLocalWindowSize(w.connectionBytes);
  session.settings({ initialWindowSize: w.streamBytes });
}

/**
 * Hooks every http2 server grpc-js has made for `server` so far (call it again
 * after each bind or connection injector; a server is hooked once). Returns
 * false when grpc-js does not expose its servers the way 1.14 does.
 */
export function widenReceiveWindow(server: Server, w: ReceiveWindow = DEFAULT_RECEIVE_WINDOW): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return false;
  for (const h2 of servers.keys() as IterableIterator<Http2Server>) {
    if (hooked.has(h2) || typeof h2?.on !== "function") continue;
    hooked.add(h2);
    h2.on("session", (session: Http2Session) => widenSession(session, w));
  }
  return true;
}
