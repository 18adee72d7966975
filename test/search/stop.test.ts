// Stop sequences: where the answer ends, and how much text is safe to stream meanwhile.
import { StopSequences } from "../../src/search/stop.js";

test("find: the first stop sequence, only among matches that end in new text", () => {
  const stops = new StopSequences(["\n\n", "The end"]);
  expect(stops.find("Once upon a time.\n\nMore")).toBe(17);
  expect(stops.find("a The end b \n\n", 0)).toBe(2);
  // Text before checkedUpTo was searched already; a match may still begin there and end after it.
  expect(stops.find("Once\n\n", 5)).toBe(4);
  expect(stops.find("x\n\nyyyyyyyy", 10)).toBe(-1);
  expect(new StopSequences([]).find("anything")).toBe(-1);
});

test("safeLength holds back a tail that may still grow into a stop sequence", () => {
  const stops = new StopSequences(["there was", "\n\n"]);
  expect(stops.safeLength(", there")).toBe(2);
  expect(stops.safeLength("one\n")).toBe(3);
  expect(stops.safeLength("once upon")).toBe(9);
  expect(stops.safeLength("")).toBe(0);
  expect(new StopSequences([]).safeLength("abc")).toBe(3);
});
