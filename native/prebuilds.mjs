// Prebuilt addons: the package ships `prebuilds/<platform>-<arch>/inference_guard.node` (made by
// scripts/prebuild.mjs on that platform) with `inference_guard.json` beside it, which says what it
// was built from. native/install.mjs uses one when it fits this machine and loads here, and builds
// from source otherwise. The addon is N-API (NAPI_VERSION 7): one binary serves every Node version,
// and it finds libllama at run time in whatever node-llama-cpp loaded (CPU, CUDA, Vulkan, Metal),
// so one prebuild per platform serves every backend.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { PACKAGE_ROOT } from "./node-llama-cpp.mjs";

export const PREBUILDS_DIR = join(PACKAGE_ROOT, "prebuilds");
export const ADDON_FILE = "inference_guard.node";
export const META_FILE = "inference_guard.json";

/** `linux-x64`, `darwin-arm64`, `win32-x64`, ...; Linux with musl libc (Alpine) is `linux-x64-musl`. */
export function prebuildTag(platform = process.platform, arch = process.arch) {
  const musl = platform === "linux" && !process.report?.getReport().header.glibcVersionRuntime;
  return `${platform}-${arch}${musl ? "-musl" : ""}`;
}

/** The addon's sources (binding.gyp, native/sources.txt and native/**.cpp, .h, except the extracted llama.cpp headers), hashed. */
export function sourcesHash(root = PACKAGE_ROOT) {
  const files = [join(root, "binding.gyp"), join(root, "native", "sources.txt")];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== "llama-headers") walk(path);
      } else if (/\.(cpp|cc|h|hpp)$/.test(name)) files.push(path);
    }
  };
  walk(join(root, "native"));
  const hash = createHash("sha256");
  // Line endings normalised: a checkout with CRLF endings has the same sources.
  for (const file of files) hash.update(`${relative(root, file).split("\\").join("/")}\n`).update(readFileSync(file, "utf8").replace(/\r\n/g, "\n"));
  return hash.digest("hex");
}

/** The prebuilt platforms the package holds. */
export function prebuiltTags() {
  return existsSync(PREBUILDS_DIR) ? readdirSync(PREBUILDS_DIR).filter((t) => existsSync(join(PREBUILDS_DIR, t, ADDON_FILE))) : [];
}

/**
 * The prebuilt addon for this machine, checked: `{file}` when it fits and loads, else `{why}`
 * (one clause saying why not). `nodeLlamaCppVersion` is the installed one, which the addon must
 * have been compiled against (it reads node-llama-cpp's private model class).
 */
export function usablePrebuild(nodeLlamaCppVersion) {
  const tag = prebuildTag();
  const dir = join(PREBUILDS_DIR, tag);
  const file = join(dir, ADDON_FILE);
  if (!existsSync(file)) {
    const have = prebuiltTags();
    return { why: `no prebuilt addon for ${tag} (the package has ${have.length > 0 ? have.join(", ") : "none"})` };
  }
  let meta;
  try {
    meta = JSON.parse(readFileSync(join(dir, META_FILE), "utf8"));
  } catch {
    return { why: `the prebuilt addon for ${tag} has no readable ${META_FILE}` };
  }
  if (meta.sources !== sourcesHash()) return { why: `the prebuilt addon for ${tag} was built from other sources than the package's native/` };
  if (meta.nodeLlamaCpp !== nodeLlamaCppVersion) {
    return { why: `the prebuilt addon for ${tag} was built against node-llama-cpp ${meta.nodeLlamaCpp}, and ${nodeLlamaCppVersion} is installed` };
  }
  let addon;
  try {
    addon = loadAddon(file);
  } catch (error) {
    // e.g. "version `GLIBC_2.34' not found": an older C library than the prebuild's.
    return { why: `the prebuilt addon for ${tag} does not load here (${String(error.message).split("\n")[0]})` };
  }
  if (addon.NODE_LLAMA_CPP_BUILD_VERSION !== nodeLlamaCppVersion) return { why: `the prebuilt addon for ${tag} reports another node-llama-cpp build` };
  return { file, meta };
}

function loadAddon(file) {
  const module = { exports: {} };
  process.dlopen(module, file);
  return module.exports;
}
