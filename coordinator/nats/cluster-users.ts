import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { writeFileAtomic } from "../../shared/tls/secret-file.ts";
import type { Logger } from "../../shared/log.ts";

const run = promisify(execFile);

export interface ClusterUsersOptions {
  /** The users file every node `include`s (deploy/nats-cluster/, coordinator/nats/cluster-node-config.ts). */
  readonly file: string;
  /** argv run after each write so that the nodes reload it; empty: the admin's own watcher does. */
  readonly reload: readonly string[];
  /** The `authorization { ... }` block as of now (StudioTrust.natsAuthorization). */
  readonly render: () => string;
  readonly log: Logger;
}

/**
 * The users of an external NATS cluster whose users the coordinator owns
 * (today's nkey scheme): the same `authorization` block the embedded server
 * appends to its config, written to the file the nodes include, then the
 * admin's reload command (bounded, 15 s). Plays the part of
 * EmbeddedNatsServer.reload for StudioEdge: writes run one at a time.
 */
export class ClusterUsers {
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ClusterUsersOptions) {}

  reload(): Promise<void> {
    const next = this.chain.then(() => this.writeAndReload());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async writeAndReload(): Promise<void> {
    await writeFileAtomic(this.opts.file, this.opts.render() + "\n", 0o600);
    const [program, ...args] = this.opts.reload;
    if (program === undefined) return;
    try {
      await run(program, args, { timeout: 15_000 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      this.opts.log.warn({ program, err: e.message.slice(0, 300), stderr: (e.stderr ?? "").slice(0, 300) }, "the NATS cluster's reload command failed; nodes keep their old users until it works");
    }
  }
}
