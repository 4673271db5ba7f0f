import type { TestProject } from "vitest/node";
import { localEnv, provision } from "../../scripts/lib/bootstrap.js";
import type { EngineEndpoints } from "../../scripts/lib/engines.js";
import { type LocalEngines, startEngines } from "../../scripts/lib/engines.js";

declare module "vitest" {
  export interface ProvidedContext {
    engines: EngineEndpoints;
  }
}

let engines: LocalEngines | undefined;

/**
 * One moto and one Dynoxide for the integration run, on free loopback ports, with the tables,
 * bucket, queue and secret provisioned.
 */
export async function setup(project: TestProject): Promise<void> {
  engines = await startEngines();
  await provision(localEnv(engines, "test"));
  project.provide("engines", { aws: engines.aws, dynamodb: engines.dynamodb });
}

export async function teardown(): Promise<void> {
  await engines?.stop();
}
