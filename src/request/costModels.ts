// The named cost models a request may pick live in src/cost/costModelSet.ts (the library needs them
// below its API); the faces' import path, kept while src/server/ moves over.
export { ASSISTANT_COST_NAME, CostModelSet, DEFAULT_COST_NAME, costModelSpecs, parseNamedCostSpecs, type SelectedCostModel } from "../cost/costModelSet.js";
