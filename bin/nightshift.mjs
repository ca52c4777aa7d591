#!/usr/bin/env node
// Thin entry point: load TypeScript through tsx, then hand over to the CLI module.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
process.exitCode = await main(process.argv);
