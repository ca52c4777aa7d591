import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BadInputError } from "../shared/errors.ts";
import { studioChannelCredentials, type StudioChannel } from "../shared/tls/grpc-credentials.ts";
import { ADMIN_CA_FILE, ADMIN_CERT_FILE, ADMIN_DIR, ADMIN_KEY_FILE } from "../coordinator/trust/admin-credentials.ts";
import { defaultDataDir } from "./paths.ts";

/**
 * The admin client certificate the CLI talks to the coordinator with:
 * `--admin-credentials DIR` (a copy of the coordinator's `<data-dir>/admin`),
 * $NIGHTSHIFT_ADMIN_CREDENTIALS, or `<data-dir>/admin` of --data-dir (default
 * data dir) on the coordinator's own machine.
 */
export function adminCredentialsDir(opts: { adminCredentials?: string; dataDir?: string }): string {
  return opts.adminCredentials ?? process.env.NIGHTSHIFT_ADMIN_CREDENTIALS ?? join(opts.dataDir ?? defaultDataDir(), ADMIN_DIR);
}

export function adminChannel(opts: { adminCredentials?: string; dataDir?: string }): StudioChannel {
  const dir = adminCredentialsDir(opts);
  const read = (file: string): string => {
    try {
      return readFileSync(join(dir, file), "utf8");
    } catch (err) {
      throw new BadInputError(
        `no admin credentials: cannot read ${join(dir, file)} (${(err as NodeJS.ErrnoException).code ?? "error"}); ` +
          "pass --data-dir of the coordinator, or --admin-credentials DIR with a copy of its <data-dir>/admin folder",
        { field: "adminCredentials", cause: err },
      );
    }
  };
  return studioChannelCredentials({ caPem: read(ADMIN_CA_FILE), certPem: read(ADMIN_CERT_FILE), keyPem: read(ADMIN_KEY_FILE) });
}
