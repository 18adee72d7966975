// node-llama-cpp is ESM-only, so tests run as native ES modules: ts-jest compiles TypeScript to ESM
// and jest needs `node --experimental-vm-modules` (see the `test` script in package.json).
export default {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: { "^.+\\.ts$": ["ts-jest", { useESM: true, tsconfig: "tsconfig.json" }] },
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  testTimeout: 120000,
  // The counts scripts/test.mjs prints last (a no-op outside it).
  reporters: ["default", "<rootDir>/scripts/jest-count-reporter.mjs"],
  maxWorkers: 2,
  // A worker that loaded llama.cpp models takes 0.1-0.2 s to tear down natively after its last
  // test (measured on 2 busy cores at nice 19), and longer when starved of CPU: jest's 500 ms
  // default then reports "A worker process has failed to exit gracefully" with no handle leaked.
  // 2 s still catches a real leak (a leaked handle never lets the worker exit).
  workerGracefulExitTimeout: 2000,
};
