import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ESM_REQUIRE_BANNER } from "../../lib/service-function.js";
import { logicalIdOf, type Synthesized, synthStage } from "./support/synth.js";

/** Lambda cold starts grow with bundle size; a handler past this has picked up something it should not. */
const MAX_BUNDLE_BYTES = 1024 * 1024;

/** The one test that really runs esbuild, for every function of the dev stack. */
describe("function bundles", () => {
  let outdir: string;
  let s: Synthesized;
  const bundles = new Map<string, string>();

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

  it("keeps every bundle under 1 MB", () => {
    for (const [handler, file] of bundles) {
      expect(statSync(file).size, handler).toBeLessThan(MAX_BUNDLE_BYTES);
    }
  });

  it("starts each bundle with the createRequire shim and ships a source map beside it", () => {
    for (const [handler, file] of bundles) {
      expect(readFileSync(file, "utf8").startsWith(ESM_REQUIRE_BANNER), handler).toBe(true);
      expect(statSync(`${file}.map`).size, handler).toBeGreaterThan(0);
    }
  });

  it("bundles the AWS SDK instead of importing the runtime's copy", () => {
    for (const [handler, file] of bundles) {
      const code = readFileSync(file, "utf8");
      expect(code, handler).not.toMatch(/from\s*["']@aws-sdk\//);
      expect(code, handler).not.toMatch(/import\(\s*["']@aws-sdk\//);
    }
  });
});
