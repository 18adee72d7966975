#!/usr/bin/env node
// Entry point of the `inference-guard` command: runs the compiled CLI (built by `npm install`).
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  console.error("inference-guard: the TypeScript build is missing (dist/): run `npm install` or `npm run build` in the package folder");
  process.exit(1);
}

// `npx inference-guard ...` and npm scripts start this file through `sh -c`. On SIGTERM npm passes
// the signal to that shell, which dies without passing it on: node would go on running (and
// serving, holding its port) as an orphan while the supervisor believes it stopped. So when npm
// started us, the parent going away is that signal. serve listens for it as a first signal only
// (after Ctrl-C, which reaches node as well, it must not count as a second one that cancels at
// once); other commands get SIGTERM.
if (process.env.npm_lifecycle_event !== undefined) {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    if (!process.emit("inference-guard:parent-gone")) process.kill(process.pid, "SIGTERM");
  }, 200);
  watch.unref();
}

const { runCli } = await import(main.href);
process.exitCode = await runCli(process.argv.slice(2));
