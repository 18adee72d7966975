// Prompt files for training and evaluation: JSON Lines, one `{"prompt": "..."}` object per line
// (blank lines are skipped). Every mistake is a one-line UserError naming the file and line.
import { z } from "zod";
import { UserError, briefZodError } from "../errors.js";
import { readJsonLinesFile } from "../util/jsonLines.js";

export const promptLineSchema = z.object({ prompt: z.string().min(1, "prompt must not be empty") }).loose();

export function readPromptsFile(path: string): string[] {
  const prompts = readJsonLinesFile(path, {
    noun: "prompts file",
    shape: '{"prompt": "..."}',
    schema: promptLineSchema,
    describe: briefZodError,
  }).map((row) => row.prompt);
  if (prompts.length === 0) throw new UserError(`prompts file ${path} has no prompts`);
  return prompts;
}
