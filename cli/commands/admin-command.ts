import type { Command } from "commander";
import type { AdminFlags } from "../studio-admin-client.ts";
import { clientOptions, printJson } from "./client-options.ts";

/**
 * `nightshift admin rotate`: a new key made here, a new certificate for it
 * from the coordinator, both written over the admin folder in use; the
 * coordinator refuses the old certificate from that moment (every copy of it).
 */
export function registerAdmin(program: Command): void {
  const admin = program.command("admin").description("the admin's own credentials");
  clientOptions(admin.command("rotate").description("replace the admin certificate and key; the old certificate is refused afterwards")).action(
    async (flags: AdminFlags) => {
      // TLS and gRPC load here, not when the CLI starts.
      const [{ writeAdminCredentials }, { generateEcKeyPair, privateKeyToPem, publicKeyToPem }, { adminCredentialsDir }, { withStudioAdmin }] = await Promise.all([
        import("../../coordinator/trust/admin-credentials.ts"),
        import("../../shared/tls/pem-keys.ts"),
        import("../admin-credentials.ts"),
        import("../studio-admin-client.ts"),
      ]);
      const keys = await generateEcKeyPair();
      const r = await withStudioAdmin(flags, (a) => a.rotateAdmin(publicKeyToPem(keys.publicKey)));
      const dir = adminCredentialsDir(flags);
      await writeAdminCredentials(dir, { keyPem: privateKeyToPem(keys.privateKey), certPem: r.certPem, caPem: r.caPem });
      if (flags.json) return printJson({ dir, rotated: true });
      process.stdout.write(`admin credentials rotated in ${dir}; the old certificate no longer works (copy this folder to the other admin machines)\n`);
    },
  );
  for (const c of admin.commands) c.exitOverride();
}
