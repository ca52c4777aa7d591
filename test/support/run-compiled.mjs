// Runs a compiled CLI (test/support/compiled-cli.ts) as bin/nightshift.mjs runs dist/main.js:
//   node run-compiled.mjs /path/to/main.js coordinator --data-dir ...
const [node, , mainFile, ...args] = process.argv;
const { main } = await import(new URL(`file://${mainFile}`).href);
process.exitCode = await main([node, mainFile, ...args]);
