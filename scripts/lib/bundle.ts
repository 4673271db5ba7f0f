import { statSync } from "node:fs";
import { join } from "node:path";
import { type BuildOptions, build } from "esbuild";
import { handlerNames } from "../../lib/audit-log-stack.js";
import { BUNDLE_ALIASES, ESM_REQUIRE_BANNER } from "../../lib/service-function.js";
import { ROOT } from "./moto.js";

/**
 * esbuild's target for the Lambda runtime (nodejs22.x in lib/service-function.ts; the CDK derives
 * `node22` from it). Not exported there, so it is repeated here.
 */
export const LAMBDA_ESBUILD_TARGET = "node22";

/**
 * The esbuild options NodejsFunction passes for a ServiceFunction (lib/service-function.ts: ESM,
 * minified, linked source map without sources, `module` before `main`, the AWS SDK bundled with no
 * externals, the createRequire banner and the bundle aliases), as esbuild's JS API takes them, run
 * from the project root as the CDK's local bundling is. The banner and aliases are imported from
 * lib/service-function.ts; the flags that live only as construct props there are repeated.
 */
export function functionBuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: LAMBDA_ESBUILD_TARGET,
    format: "esm",
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: ["module", "main"],
    external: [],
    banner: { js: ESM_REQUIRE_BANNER },
    alias: { ...BUNDLE_ALIASES },
    logLevel: "warning",
  };
}

export interface FunctionBundle {
  /** The folder under functions/. */
  handler: string;
  /** `<outdir>/<handler>/index.mjs`, beside its `.map`. */
  file: string;
  bytes: number;
  mapBytes: number;
}

/**
 * Bundles each function the stack deploys (lib/audit-log-stack.ts handlerNames(): every route's
 * handler, the scheduled jobs, the queue workers) as the deployment does, into `outdir`.
 */
export async function bundleFunctions(
  outdir: string,
  handlers: readonly string[] = handlerNames(),
): Promise<FunctionBundle[]> {
  return Promise.all(
    handlers.map(async (handler) => {
      const file = join(outdir, handler, "index.mjs");
      await build(functionBuildOptions(join(ROOT, "functions", handler, "handler.ts"), file));
      return { handler, file, bytes: statSync(file).size, mapBytes: statSync(`${file}.map`).size };
    }),
  );
}
