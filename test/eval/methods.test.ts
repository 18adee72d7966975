// Method specs: the command-line and config forms, defaults, names and every mistake.
import { UserError } from "../../src/errors.js";
import { METHOD_KINDS, methodContextCells, methodFromConfig, parseMethodList, parseMethodSpec } from "../../src/eval/methods.js";

test("a spec names the method with the parameters given, in a fixed order, defaults filled in", () => {
  const bon = parseMethodSpec("bon:n=8");
  expect(bon).toEqual({ name: "bon:n=8", kind: "bon", params: { n: 8, t: 1, reward: "default" } });
  const lag = parseMethodSpec("bon-lagrangian:lambda=2:n=8");
  expect(lag.name).toBe("bon-lagrangian:n=8:lambda=2");
  expect(lag.params).toEqual({ n: 8, lambda: 2, t: 1, reward: "default" });
  expect(parseMethodSpec("guard").params).toEqual({ k: 4, n: 16, w: 8, t: 1, m: 2, penalty: 8, unsafe: "truncate", branch: "auto", reward: "default" });
  expect(parseMethodSpec("guard:k=4:n=8:w=8:branch=always")).toMatchObject({ name: "guard:k=4:n=8:w=8:branch=always", params: { branch: "always" } });
  expect(parseMethodSpec("guard-critic:cw=0.5").params).toMatchObject({ cw: 0.5, vp: 10, k: 4 });
  expect(parseMethodSpec("guard:unsafe=refuse").params.unsafe).toBe("refuse");
  expect(parseMethodSpec("args:k=10:omega=2").params).toEqual({ k: 10, omega: 2, t: 0, reward: "default", rw: 1 });
  expect(parseMethodSpec("greedy")).toEqual({ name: "greedy", kind: "greedy", params: {} });
});

test("the config form gives the same method as the command-line form", () => {
  expect(methodFromConfig({ method: "beam", w: 4, k: 2 })).toEqual(parseMethodSpec("beam:k=2:w=4"));
  expect(methodFromConfig("sample:t=0.7")).toEqual(parseMethodSpec("sample:t=0.7"));
});

test("lists: every kind parses; duplicates are refused", () => {
  expect(parseMethodList(METHOD_KINDS.join(",")).map((m) => m.kind)).toEqual(METHOD_KINDS);
  expect(() => parseMethodList("bon:n=8, bon:n=8")).toThrow(/listed twice/);
  expect(parseMethodList("bon:n=4,bon:n=8").map((m) => m.name)).toEqual(["bon:n=4", "bon:n=8"]);
});

test.each([
  ["nonsense", /unknown method "nonsense"/],
  ["bon:n=0", /n/],
  ["bon:n=eight", /n/],
  ["bon:size=8", /size|unrecognized/i],
  ["bon:n", /key=value/],
  ["beam:k=8:n=4", /n \(candidates per block\) must be >= k/],
  ["guard:unsafe=maybe", /unsafe/],
  ["bon:n=8:n=9", /twice/],
  ["", /no methods/],
])("%j is a UserError", (spec, message) => {
  const parse = () => (spec === "" ? parseMethodList(spec) : parseMethodSpec(spec));
  expect(parse).toThrow(UserError);
  expect(parse).toThrow(message);
});

test("KV cells needed grow with the method's parallel answers", () => {
  expect(methodContextCells(parseMethodSpec("greedy"), 10, 100)).toBe(110);
  expect(methodContextCells(parseMethodSpec("bon:n=8"), 10, 100)).toBe(810);
  expect(methodContextCells(parseMethodSpec("guard"), 10, 100)).toBe(10 + 4 * 100 + 16 * 8 + 4 + 1);
});
