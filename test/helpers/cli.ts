// Runs the CLI in-process with captured stdout/stderr, as a user would see them.
import { Writable } from "node:stream";
import { runCli } from "../../src/cli/main.js";

export class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await runCli(argv, out, err);
  return { code, out: out.text, err: err.text };
}
