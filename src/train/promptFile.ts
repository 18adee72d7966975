// Prompt files for training and evaluation: JSON Lines, one `{"prompt": "..."}` object per line
// (blank lines are skipped). Every mistake is a one-line UserError naming the file and line.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { UserError } from "../errors.js";
import { briefZodError } from "./zodBrief.js";

export const promptLineSchema = z.object({ prompt: z.string().min(1, "prompt must not be empty") }).loose();

export function readPromptsFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`prompts file not found: ${path}`);
    throw new UserError(`cannot read prompts file ${path}: ${(error as Error).message}`);
  }
  const prompts: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new UserError(`${path}:${i + 1}: not valid JSON (expected {"prompt": "..."} per line)`);
    }
    const parsed = promptLineSchema.safeParse(json);
    if (!parsed.success) throw new UserError(`${path}:${i + 1}: ${briefZodError(parsed.error)}`);
    prompts.push(parsed.data.prompt);
  });
  if (prompts.length === 0) throw new UserError(`prompts file ${path} has no prompts`);
  return prompts;
}
