#!/usr/bin/env node
// Entry point of the `inference-guard` command: runs the compiled CLI (built by `npm install`).
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  console.error("inference-guard: the TypeScript build is missing (dist/): run `npm install` or `npm run build` in the package folder");
  process.exit(1);
}
const { runCli } = await import(main.href);
process.exitCode = await runCli(process.argv.slice(2));
