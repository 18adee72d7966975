// Whether a critic file applies to a loaded model (assertCriticMatchesModel's rules), with the
// model's facts read from its engine and file: the sha256 is hashed only when the critic records
// one and the shapes already match (a refusal never waits for a hash of a large GGUF).
import { basename } from "node:path";
import { fileSha256 } from "../util/fileHash.js";
import { assertCriticMatchesModel, type CriticHeader } from "./format.js";

export async function criticWarningsFor(
  critic: { header: Pick<CriticHeader, "hiddenDim" | "model"> },
  model: { nEmbd: number; nVocab: number; modelPath: string },
): Promise<string[]> {
  const facts = { nEmbd: model.nEmbd, nVocab: model.nVocab, name: basename(model.modelPath) };
  assertCriticMatchesModel(critic, facts);
  if (!critic.header.model.sha256) return [];
  return assertCriticMatchesModel(critic, { ...facts, sha256: await fileSha256(model.modelPath) });
}
