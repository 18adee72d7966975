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
};
