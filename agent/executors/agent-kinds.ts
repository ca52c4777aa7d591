import type { Logger } from "../../shared/log.ts";
import type { AgentKindsConfig } from "../config/agent-kinds-config.ts";
import { hostname } from "node:os";
import { BlenderExecutorFactory } from "./blender/blender-factory.ts";
import { commandFactory } from "./command/command-factory.ts";
import { ComfyuiExecutorFactory } from "./comfyui/comfyui-factory.ts";
import type { AnyExecutorFactory } from "./executor-registry.ts";

/**
 * The step kinds beyond `model` that this agent offers, from its config. Each
 * factory probes the machine when the agent starts, so a kind whose tool is
 * missing is simply not advertised. Add a kind here and in shared/steps/.
 */
export function kindFactories(config: AgentKindsConfig, log: Logger, agentName = hostname()): AnyExecutorFactory[] {
  const factories: AnyExecutorFactory[] = [];
  // Blender is offered where the shared root is mounted (scenes by path) or where the admin configured
  // Blender (`blender:` in the config, `--blender`): without a mount it renders scenes sent by content.
  // The factory's probe then finds out whether this machine really has Blender.
  if (config.blender?.enabled !== false && (config.sharedRoot !== undefined || config.blender !== undefined)) {
    factories.push(
      new BlenderExecutorFactory({
        ...(config.sharedRoot === undefined ? {} : { sharedRoot: config.sharedRoot }),
        ...(config.blender?.path === undefined ? {} : { blenderPath: config.blender.path }),
      }),
    );
  }
  if (Object.keys(config.commands).length > 0) factories.push(commandFactory(config.commands));
  if (config.comfyui !== undefined) factories.push(new ComfyuiExecutorFactory({ url: config.comfyui.url, agentId: agentName, log }));
  return factories;
}
