import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUE_WORKERS, ROUTES, SCHEDULED_HANDLERS } from "../../functions/shared/routes.js";
import { ESM_REQUIRE_BANNER } from "../../lib/service-function.js";
import { logicalIdOf, type Synthesized, synthStage } from "./support/synth.js";

type Kind = "api" | "job";

/** An API handler serves a route; a job is scheduled or fed by a queue (functions/shared/routes.ts). */
function kindOf(handler: string): Kind | undefined {
  const api = ROUTES.some((r) => r.handler === handler);
  const job = SCHEDULED_HANDLERS.includes(handler) || QUEUE_WORKERS.some((w) => w.handler === handler);
  return api === job ? undefined : api ? "api" : "job";
}

/**
 * Lambda cold starts grow with bundle size; a function past its kind's limit has picked up something
 * it should not. Ratchets at today's largest bundle of each kind plus some headroom (API: the
 * routes that carry the S3 client, ~615 KB; jobs: the nightly export, with S3, KMS, Secrets Manager
 * and Powertools Metrics, ~685 KB). Issue 9 aims at 250 KB and 400 KB; the SDK's DynamoDB client
 * alone is ~205 KB minified, S3 adds ~170 KB, zod classic ~95 KB, Powertools Metrics ~20 KB, and
 * the route manifest (each route's schemas and OpenAPI text, which every handler's wrapper reads)
 * ~25 KB.
 */
const MAX_BUNDLE_BYTES: Record<Kind, number> = { api: 640 * 1024, job: 720 * 1024 };

/** Strings only the SDK's default credential chain carries (web identity, container, SSO). */
const CREDENTIAL_CHAIN_MARKERS = [
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "sso_start_url",
];
/** A property name of zod-openapi's document builder. */
const ZOD_OPENAPI_MARKER = "zodOpenApiCreateSchema";

/** The one test that really runs esbuild, for every function of the dev stack. */
describe("function bundles", () => {
  let outdir: string;
  let s: Synthesized;
  const bundles = new Map<string, string>();
  const code = (file: string) => readFileSync(file, "utf8");

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), "audit-log-bundle-"));
    s = synthStage("dev", { bundle: true, outdir });
    const functions = s.template.findResources("AWS::Lambda::Function");
    for (const [handler, sf] of s.stack.functions) {
      const assetPath = functions[logicalIdOf(sf.function)]?.Metadata?.["aws:asset:path"] as string;
      bundles.set(handler, join(outdir, assetPath, "index.mjs"));
    }
  });

  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it("bundles every function to its own ESM module", () => {
    expect([...bundles.keys()].sort()).toEqual([...s.stack.functions.keys()].sort());
    expect(new Set(bundles.values()).size).toBe(bundles.size);
  });

  it("keeps every bundle under its kind's limit (API handler or job)", () => {
    const kinds = new Set<Kind>();
    for (const [handler, file] of bundles) {
      const kind = kindOf(handler);
      expect(kind, `${handler} is neither a route's handler nor a job, or both`).toBeDefined();
      if (!kind) continue;
      kinds.add(kind);
      expect(statSync(file).size, `${handler} (${kind})`).toBeLessThanOrEqual(MAX_BUNDLE_BYTES[kind]);
    }
    expect([...kinds].sort()).toEqual(["api", "job"]);
  });

  it("takes credentials from the environment only, without the SDK's default chain", () => {
    for (const [handler, file] of bundles) {
      for (const marker of CREDENTIAL_CHAIN_MARKERS) expect(code(file), handler).not.toContain(marker);
    }
  });

  it("bundles zod-openapi only into the openapi handler", () => {
    for (const [handler, file] of bundles) {
      expect(code(file).includes(ZOD_OPENAPI_MARKER), handler).toBe(handler === "openapi");
    }
  });

  it("keeps the error names the logs and the 503 mapping read, through minification", () => {
    for (const [handler, file] of bundles) {
      if (kindOf(handler) !== "api" || handler === "health" || handler === "openapi") continue;
      expect(code(file).includes('"UnavailableError"'), handler).toBe(true);
    }
  });

  it("starts each bundle with the createRequire shim and ships a source map beside it", () => {
    for (const [handler, file] of bundles) {
      expect(code(file).startsWith(ESM_REQUIRE_BANNER), handler).toBe(true);
      expect(statSync(`${file}.map`).size, handler).toBeGreaterThan(0);
    }
  });

  it("bundles the AWS SDK instead of importing the runtime's copy", () => {
    for (const [handler, file] of bundles) {
      expect(code(file), handler).not.toMatch(/from\s*["']@aws-sdk\//);
      expect(code(file), handler).not.toMatch(/import\(\s*["']@aws-sdk\//);
    }
  });
});
