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

test("firstPossibleStart: where a stop sequence begins or may still begin (text before it stays in the answer)", () => {
  const stops = new StopSequences(["there was", "\n\n"]);
  expect(stops.firstPossibleStart("Once there was a dog", 0)).toBe(5); // a whole one
  expect(stops.firstPossibleStart("a dog, there", 0)).toBe(7); // one that may yet complete
  expect(stops.firstPossibleStart("a dog hit it\n", 6)).toBe(12);
  expect(stops.firstPossibleStart("a dog hit it", 6)).toBe(11); // "t" may grow into "there was"
  expect(stops.firstPossibleStart("a dog hit it.", 6)).toBe(13); // none: the whole text
  expect(stops.firstPossibleStart("\n\nab there", 10)).toBe(5); // matches ending before checkedUpTo were searched already
  expect(new StopSequences([]).firstPossibleStart("abc")).toBe(3);
});
