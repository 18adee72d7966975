// The CSV parser's edge cases, and the dataset loaders on the real shared files (counts as in
// ../shared/README.md). No dataset text is printed.
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHARED_DIR } from "../../src/paths.js";
import {
  CsvError,
  XSTEST_MODELS,
  loadDavidson,
  loadGptFuzz,
  loadPromptSet,
  loadXsTestAnswers,
  loadXsTestPrompts,
  parseCsv,
  readCsvRecords,
} from "../../src/data/datasets.js";

const DATA = join(SHARED_DIR, "data");
const fields = (text: string): string[][] => parseCsv(text).map((r) => r.fields);

describe("parseCsv (RFC 4180)", () => {
  test("plain fields, CRLF / LF / CR line ends, no final line break", () => {
    expect(fields("a,b\r\n1,2\r\n")).toEqual([["a", "b"], ["1", "2"]]);
    expect(fields("a,b\n1,2")).toEqual([["a", "b"], ["1", "2"]]);
    expect(fields("a,b\r1,2\r")).toEqual([["a", "b"], ["1", "2"]]);
  });

  test("quoted fields keep commas, doubled quotes and line breaks exactly", () => {
    const rows = parseCsv('id,text\n1,"hello, ""world""\nsecond line\r\nthird"\n2,"",x\n');
    expect(rows.map((r) => r.fields)).toEqual([
      ["id", "text"],
      ["1", 'hello, "world"\nsecond line\r\nthird'],
      ["2", "", "x"],
    ]);
    // Line numbers are where each row starts: the quoted field spans lines 2-4.
    expect(rows.map((r) => r.line)).toEqual([1, 2, 5]);
  });

  test("empty fields, trailing commas, blank lines, a BOM, a quote inside an unquoted field", () => {
    expect(fields("a,,c\n,\n")).toEqual([["a", "", "c"], ["", ""]]);
    expect(fields('x,"q",\n')).toEqual([["x", "q", ""]]);
    expect(fields("x,")).toEqual([["x", ""]]);
    expect(fields("a\n\n\nb\n")).toEqual([["a"], ["b"]]);
    expect(fields("\uFEFFid,v\n1,2\n")).toEqual([["id", "v"], ["1", "2"]]);
    expect(fields('5 "inch",ok\n')).toEqual([['5 "inch"', "ok"]]);
    expect(fields('""\n')).toEqual([[""]]);
    expect(fields("")).toEqual([]);
    expect(fields('"multi\n\nline"')).toEqual([["multi\n\nline"]]);
  });

  test("refuses an unclosed quote and text after a closing quote, with line and column", () => {
    expect(() => parseCsv('a,b\n1,"never closed\n2,3\n')).toThrow(new CsvError("quoted field is never closed (missing closing quote)", 2, 3));
    expect(() => parseCsv('a\n"x"y,1\n')).toThrow(/line 2, column 4: unexpected "y" after a closing quote/);
  });
});

describe("readCsvRecords", () => {
  const dir = mkdtempSync(join(tmpdir(), "inference-guard-csv-"));
  test("maps rows to the header and names file and line in every refusal", () => {
    const ok = join(dir, "ok.csv");
    writeFileSync(ok, 'q,text,label\n0,"a\nb",1\n1,c,0\n');
    expect(readCsvRecords(ok, ["text", "label"])).toEqual([
      { line: 2, values: { q: "0", text: "a\nb", label: "1" } },
      { line: 4, values: { q: "1", text: "c", label: "0" } },
    ]);
    expect(() => readCsvRecords(ok, ["missing"])).toThrow(/ok\.csv: missing column\(s\) "missing"/);
    const ragged = join(dir, "ragged.csv");
    writeFileSync(ragged, "a,b\n1,2\n3\n");
    expect(() => readCsvRecords(ragged, [])).toThrow(/ragged\.csv: line 3: 1 fields, but the header has 2/);
    const broken = join(dir, "broken.csv");
    writeFileSync(broken, 'a\n"x\n');
    expect(() => readCsvRecords(broken, [])).toThrow(/broken\.csv: line 2, column 1: quoted field is never closed/);
    expect(() => readCsvRecords(join(dir, "none.csv"), [])).toThrow(/data file not found/);
  });

  test("a loader refuses a malformed row with its line", () => {
    const root = join(dir, "data");
    mkdirSync(join(root, "safety", "gptfuzz"), { recursive: true });
    writeFileSync(join(root, "safety", "gptfuzz", "responses_train.csv"), 'question,Response,label\n0,"ok",1\n1,"bad",2\n');
    expect(() => loadGptFuzz(root, "train")).toThrow(/responses_train\.csv: line 3: label: label must be 0 or 1/);
    expect(() => loadGptFuzz(root, "evaluate")).toThrow(/data file not found: .*responses_evaluate\.csv/);
  });
});

describe("loaders on the shared data", () => {
  test("GPTFuzz: 6,160 training and 1,540 evaluation responses, both labels", () => {
    const train = loadGptFuzz(DATA, "train");
    const evaluate = loadGptFuzz(DATA, "evaluate");
    expect([train.length, evaluate.length]).toEqual([6160, 1540]);
    expect(train.filter((r) => r.label === 1).length).toBe(1694);
    expect(evaluate.filter((r) => r.label === 1).length).toBe(545);
    expect(train.every((r) => r.text.length > 0 && Number.isInteger(r.question))).toBe(true);
  });

  test("XSTest: 450 prompts (200 unsafe); 5 x 450 answers, unsafe = unsafe prompt + full compliance", () => {
    const prompts = loadXsTestPrompts(DATA);
    expect(prompts.length).toBe(450);
    expect(prompts.filter((p) => p.label === "unsafe").length).toBe(200);
    const unsafeByModel: Record<string, number> = {};
    for (const model of XSTEST_MODELS) {
      const answers = loadXsTestAnswers(DATA, model, prompts);
      expect(answers.length).toBe(450);
      for (const a of answers) expect(a.label).toBe(a.promptLabel === "unsafe" && a.finalLabel === "1_full_compliance" ? 1 : 0);
      unsafeByModel[model] = answers.filter((a) => a.label === 1).length;
    }
    expect(unsafeByModel).toEqual({ gpt4: 1, llama2new: 0, llama2orig: 0, mistralguard: 7, mistralinstruct: 128 });
  });

  test("prompt sets and Davidson tweets", () => {
    expect(loadPromptSet(DATA, "harmful", "train").length).toBe(260);
    expect(loadPromptSet(DATA, "harmful", "test").every((p) => p.label === 1)).toBe(true);
    const harmless = loadPromptSet(DATA, "harmless", "val");
    expect(harmless.length).toBe(6264);
    expect(harmless.every((p) => p.label === 0)).toBe(true);
    const tweets = loadDavidson(DATA);
    expect(tweets.length).toBe(24783);
    expect(tweets.filter((t) => t.klass === 0).length).toBe(1430);
    expect(tweets.filter((t) => t.label === 0).length).toBe(4163); // class 2, "neither"
  });
});
