import type { TestProject } from "vitest/node";
import { localEnv, provision } from "../../scripts/lib/bootstrap.js";
import { type MotoServer, startMoto } from "../../scripts/lib/moto.js";

declare module "vitest" {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

let moto: MotoServer | undefined;

/** One moto server for the integration run, on a free loopback port, with the tables provisioned. */
export async function setup(project: TestProject): Promise<void> {
  moto = await startMoto();
  await provision(localEnv(moto.endpoint, "test"));
  project.provide("motoEndpoint", moto.endpoint);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}
