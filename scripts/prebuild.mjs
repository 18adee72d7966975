// Makes the prebuilt addon for this platform: builds it from source (native/build.mjs, incremental)
// and copies it, stripped, to prebuilds/<platform>-<arch>/inference_guard.node with
// inference_guard.json (the sources' hash, the node-llama-cpp version it was compiled against, the
// N-API version, and on Linux the C library it needs). `npm pack` runs it (prepack), so the
// tarball ships the linux-x64 prebuild when packed on linux-x64. For another platform, run
// `npm install && node scripts/prebuild.mjs` in a checkout on that platform and copy its
// prebuilds/<tag>/ folder into the checkout that packs: native/install.mjs picks the one that fits.
//
// Run it through npm (`npm pack`, `npm run prebuild`): node-gyp takes npm's nodedir setting from there.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT as root, nodeLlamaCppVersion } from "../native/node-llama-cpp.mjs";
import { ADDON_FILE, META_FILE, PREBUILDS_DIR, prebuildTag, sourcesHash } from "../native/prebuilds.mjs";

const build = spawnSync(process.execPath, [join(root, "native", "build.mjs")], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const tag = prebuildTag();
const dir = join(PREBUILDS_DIR, tag);
mkdirSync(dir, { recursive: true });
const built = join(root, "build", "Release", ADDON_FILE);
const target = join(dir, ADDON_FILE);
copyFileSync(built, `${target}.tmp`);
// Symbols are of no use to an app and half the file; strip is optional (not on Windows).
if (process.platform !== "win32") {
  const args = process.platform === "darwin" ? ["-x", `${target}.tmp`] : ["--strip-unneeded", `${target}.tmp`];
  spawnSync("strip", args, { stdio: "ignore" });
}
renameSync(`${target}.tmp`, target);

/** The highest GLIBC_x.y symbol version the addon needs (what C library a machine must have), or undefined. */
function glibcNeeded(file) {
  const text = readFileSync(file).toString("latin1");
  const versions = [...text.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  if (versions.length === 0) return undefined;
  const [major, minor] = versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a));
  return `${major}.${minor}`;
}

const meta = {
  tag,
  sources: sourcesHash(),
  nodeLlamaCpp: nodeLlamaCppVersion(),
  napi: 7,
  ...(process.platform === "linux" ? { glibc: glibcNeeded(target) } : {}),
  bytes: statSync(target).size,
};
writeFileSync(join(dir, META_FILE), JSON.stringify(meta, null, 2) + "\n");
console.error(`inference-guard: prebuilt ${tag} addon in ${join("prebuilds", tag)} (${(meta.bytes / 1024).toFixed(0)} KiB${meta.glibc ? `, needs glibc ${meta.glibc}+` : ""})`);
