import { BadInputError } from "../errors.ts";

/**
 * Names that appear in studio certificates and NATS subjects. An agent id is
 * the certificate CN, the NATS user name and a NATS subject token, so it is
 * kept to characters that are safe in all three.
 */

/** The DNS name every coordinator server certificate carries, whatever its IP. */
export const COORDINATOR_TLS_NAME = "coordinator.nightshift.internal";

/** Common-name prefix of admin (CLI) client certificates: `admin:<name>`. */
export const ADMIN_CN_PREFIX = "admin:";

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const ADMIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$/;

export function isValidAgentId(id: string): boolean {
  return AGENT_ID.test(id);
}

export function assertAgentId(id: string, field = "agentId"): void {
  if (!isValidAgentId(id)) {
    throw new BadInputError(
      `${field} "${id}" must be 1-63 letters, digits, "-" or "_", starting with a letter or digit`,
      { field },
    );
  }
}

export function adminCommonName(name: string): string {
  if (!ADMIN_NAME.test(name)) {
    throw new BadInputError(`admin name "${name}" must be 1-63 letters, digits, ".", "@", "-" or "_"`, {
      field: "adminName",
    });
  }
  return `${ADMIN_CN_PREFIX}${name}`;
}
