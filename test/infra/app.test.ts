import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../lib/audit-log-stack.js";

/**
 * Runs bin/app.ts the way the CDK CLI does (context in CDK_CONTEXT_JSON, output in CDK_OUTDIR), so
 * the real entry point, its stage parsing and its cdk-nag plugin are exercised. Bundling is skipped
 * for speed; the bundle test covers esbuild.
 */
const outdirs: string[] = [];

function runApp(context: Record<string, unknown>) {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, "cdk.json"), "utf8")) as { context: object };
  const outdir = mkdtempSync(join(tmpdir(), "audit-log-app-"));
  outdirs.push(outdir);
  const result = spawnSync(
    join(REPO_ROOT, "node_modules", ".bin", "tsx"),
    [join(REPO_ROOT, "bin", "app.ts")],
    {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, "aws:cdk:bundling-stacks": [], ...context }),
      },
    },
  );
  return { ...result, outdir };
}

function stackArtifacts(outdir: string): string[] {
  const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")) as {
    artifacts: Record<string, { type: string }>;
  };
  return Object.entries(manifest.artifacts)
    .filter(([, a]) => a.type === "aws:cloudformation:stack")
    .map(([name]) => name);
}

describe("bin/app.ts", () => {
  afterAll(() => {
    for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  });

  it("-c stage=staging synthesizes exactly one stack, AuditLog-staging, past the cdk-nag plugin", () => {
    const run = runApp({ stage: "staging" });
    expect(run.stderr).not.toMatch(/AwsSolutions-/);
    expect(run.status, run.stderr).toBe(0);
    expect(stackArtifacts(run.outdir)).toEqual(["AuditLog-staging"]);
    const template = JSON.parse(readFileSync(join(run.outdir, "AuditLog-staging.template.json"), "utf8")) as {
      Resources: Record<string, { Type: string; Properties?: { ObjectLockConfiguration?: unknown } }>;
    };
    const locks = Object.values(template.Resources)
      .filter((r) => r.Type === "AWS::S3::Bucket" && r.Properties?.ObjectLockConfiguration)
      .map((r) => r.Properties?.ObjectLockConfiguration);
    expect(locks).toEqual([
      { ObjectLockEnabled: "Enabled", Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 30 } } },
    ]);
  });

  it("without a stage it builds dev", () => {
    const run = runApp({});
    expect(run.status, run.stderr).toBe(0);
    expect(stackArtifacts(run.outdir)).toEqual(["AuditLog-dev"]);
  });

  it("an unknown stage stops the synth and names the valid ones", () => {
    const run = runApp({ stage: "production" });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('unknown stage "production": use -c stage=dev|staging|prod');
  });
});
