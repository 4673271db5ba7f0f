#!/usr/bin/env node
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { AuditLogStack } from "../lib/audit-log-stack.js";
import { stageConfig } from "../lib/stages.js";

/**
 * One stack per invocation, for the stage named on the command line:
 *   npx cdk synth -c stage=dev|staging|prod [-c alarmEmail=ops@example.com]
 * No stage means dev; an unknown stage stops the synth.
 */
const app = new App();
const alarmEmail: unknown = app.node.tryGetContext("alarmEmail");
const config = stageConfig(app.node.tryGetContext("stage"), {
  alarmEmail: typeof alarmEmail === "string" && alarmEmail !== "" ? alarmEmail : undefined,
});

// Environment-agnostic on purpose: synth needs no account, no credentials and no lookups.
new AuditLogStack(app, `AuditLog-${config.name}`, { config });

// cdk-nag 3 runs as a policy validation plugin on every synth; an unacknowledged error fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
