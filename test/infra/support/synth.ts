import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App, type CfnElement, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { AuditLogStack, REPO_ROOT } from "../../../lib/audit-log-stack.js";
import { STAGES, type StageName } from "../../../lib/stages.js";

/** The feature flags from cdk.json, so tests synthesize exactly what `cdk synth` would. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, "cdk.json"), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export interface Synthesized {
  readonly app: App;
  readonly stack: AuditLogStack;
  readonly template: Template;
}

export interface SynthOptions {
  /** Run esbuild for every function. Slow; only the bundle-size test needs it. @default false */
  readonly bundle?: boolean;
  /** Cloud assembly directory. @default a fresh temporary directory */
  readonly outdir?: string;
}

/** Builds one stage's stack the way bin/app.ts does and synthesizes its template. */
export function synthStage(stage: StageName, options: SynthOptions = {}): Synthesized {
  const context: Record<string, unknown> = { ...cdkJsonContext() };
  // An empty list of stacks to bundle makes NodejsFunction skip esbuild entirely.
  if (!options.bundle) context["aws:cdk:bundling-stacks"] = [];
  // Records each function's asset directory in its Metadata, as the CLI does, for the bundle test.
  else context["aws:cdk:enable-asset-metadata"] = true;
  const app = new App({ context, ...(options.outdir ? { outdir: options.outdir } : {}) });
  const stack = new AuditLogStack(app, `AuditLog-${stage}`, { config: STAGES[stage] });
  return { app, stack, template: Template.fromStack(stack) };
}

const cache = new Map<StageName, Synthesized>();

/** {@link synthStage} without bundling, once per stage per test file. */
export function synthCached(stage: StageName): Synthesized {
  let synthesized = cache.get(stage);
  if (synthesized === undefined) {
    synthesized = synthStage(stage);
    cache.set(stage, synthesized);
  }
  return synthesized;
}

/** cdk-nag AwsSolutions findings of error severity that no acknowledgement covers. */
export function unacknowledgedNagErrors(synthesized: Synthesized): string[] {
  const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(synthesized.stack);
  return report.violations
    .filter((v) => v.severity === "error")
    .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
}

/** The template logical id of an L2 construct's main resource (or of an L1 element itself). */
export function logicalIdOf(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).resolve(element.logicalId) as string;
}

/** Logical id of the function built for one handler folder. */
export function functionLogicalId(synthesized: Synthesized, handler: string): string {
  const sf = synthesized.stack.functions.get(handler);
  if (sf === undefined) throw new Error(`no function for handler ${handler}`);
  return logicalIdOf(sf.function);
}

/** Logical id of the execution role of one handler's function. */
export function roleLogicalId(synthesized: Synthesized, handler: string): string {
  const sf = synthesized.stack.functions.get(handler);
  if (sf === undefined) throw new Error(`no function for handler ${handler}`);
  return logicalIdOf(sf.role);
}
