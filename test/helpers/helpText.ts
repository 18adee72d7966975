// Reading a command's --help text in tests.

/** flag -> the text inside "(default ...)" on its help line (or a continuation line under it). */
export function statedDefaults(help: string): Map<string, string> {
  const stated = new Map<string, string>();
  let flag: string | undefined;
  for (const line of help.split("\n")) {
    const head = /^\s+(?:-\w, )?(--[a-z0-9-]+)/.exec(line);
    if (head) flag = head[1];
    else if (!/^\s{20,}/.test(line)) flag = undefined;
    const m = /\(default ([^)]+)\)/.exec(line);
    if (m && flag) stated.set(flag, m[1]!.trim());
  }
  return stated;
}
