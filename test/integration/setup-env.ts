import { inject } from "vitest";
import { localEnv, processEnvFor } from "../../scripts/lib/bootstrap.js";

// Before any test file imports a handler module: point the runtime's config at the shared engines.
Object.assign(process.env, processEnvFor(localEnv(inject("engines"), "test")));
