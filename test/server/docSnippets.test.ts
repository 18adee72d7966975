// The openai-client snippets of README.md and docs/server.md, run as written against a real
// server: only the port in their base URL changes (the server listens on a free one).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { createGuardServer, type GuardServer } from "../../src/server/index.js";
import { STORIES_MODEL } from "../helpers/models.js";

/** The ```ts blocks of a Markdown file that use the openai client. */
function openaiSnippets(file: string): string[] {
  const text = readFileSync(join(PACKAGE_ROOT, file), "utf8");
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((code) => code.includes('from "openai"'));
}

let server: GuardServer;
let url: string;
// Inside the package (gitignored), so `import OpenAI from "openai"` resolves as in a user's project.
const scratch = join(PACKAGE_ROOT, "scratch");

beforeAll(async () => {
  // As README's command: --api-key sk-local; the model file's name does not matter to clients.
  server = await createGuardServer({ model: STORIES_MODEL, threads: 1, port: 0, apiKey: "sk-local" });
  url = await server.listen();
});

afterAll(async () => {
  await server?.close({ graceSeconds: 0 });
});

function run(file: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: PACKAGE_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

test.each([
  ["README.md", 0],
  ["docs/server.md", 0],
])("%s: openai snippet %i runs as written", async (file, index) => {
  const snippets = openaiSnippets(file);
  expect(snippets.length).toBeGreaterThan(index);
  const code = snippets[index]!;
  expect(code).toContain("http://127.0.0.1:8080/v1");
  mkdirSync(scratch, { recursive: true });
  const dir = mkdtempSync(join(scratch, "snippet-"));
  try {
    const path = join(dir, "snippet.ts");
    writeFileSync(path, code.replaceAll("http://127.0.0.1:8080", url));
    const r = await run(path);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/withinBudget: true/); // it printed the guard summary
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
