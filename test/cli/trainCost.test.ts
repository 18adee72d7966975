// train-cost --help: defaults are shown as a user can read them on any machine.
import { PACKAGE_ROOT } from "../../src/paths.js";
import { cli } from "../helpers/cli.js";

test("--help shows the --data-dir default relative to the package, not this machine's absolute path", async () => {
  const help = await cli("train-cost", "--help");
  expect(help.code).toBe(0);
  expect(help.out).toMatch(/--data-dir DIR .*\n +.*\(default \.\.\/shared\/data\)/);
  expect(help.out).not.toContain(PACKAGE_ROOT);
});
