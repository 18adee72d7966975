// Messages built from input (a key or a value a user wrote) go to logs and terminals one line
// each: control characters in them are written as JSON escapes, so a line break in a field name
// cannot split (or forge) a log line, and an escape sequence cannot drive the terminal.

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` with every control character (and U+2028/U+2029) written as a \uXXXX (or \n, \r, \t) escape. */
export function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}
