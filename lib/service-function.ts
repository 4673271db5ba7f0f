import { join } from "node:path";
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { SERVICE_NAME } from "./alarms.js";

/**
 * Prepended to every ESM bundle. Some bundled CommonJS dependencies call `require()` for Node
 * built-ins, which does not exist in an ES module; esbuild's shim falls back to this one. The
 * import is aliased so that it cannot collide with a `createRequire` binding inside the bundle.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __auditLogCreateRequire } from 'node:module'; const require = __auditLogCreateRequire(import.meta.url);";

/**
 * esbuild aliases: package → module that stands in for it in every bundle. Paths are relative to the
 * project root, where local bundling runs esbuild (the Docker fallback, used only without a local
 * esbuild, would not find them).
 * - `@aws-sdk/credential-provider-node`, the SDK's default credential chain, which every client's
 *   runtime config imports whether or not `credentials` is given: on Lambda the role's credentials
 *   are in the environment, so `defaultProvider` is `fromEnv` (functions/shared/adapters/env-credentials.ts)
 *   and SSO, STS, ini files and IMDS stay out of the bundle (about 110–130 KB of each).
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  "@aws-sdk/credential-provider-node": "./functions/shared/adapters/env-credentials.ts",
};

export interface ServiceFunctionProps {
  /** Absolute path of the handler module; it must export `handler`. */
  readonly entry: string;
  /** Shown in the Lambda console: what the function serves. */
  readonly description: string;
  /**
   * The repository root: esbuild runs there and the entry must sit inside it.
   */
  readonly projectRoot: string;
  /**
   * Variables on top of the shared ones (`POWERTOOLS_*`, `NODE_OPTIONS`). Names must match
   * `functions/shared/config.ts`.
   * @default - only the shared variables
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * 512 MB buys faster cold starts and hashing than the 128 MB minimum at a small cost.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * API handlers answer well inside API Gateway's 30 s integration limit.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default "INFO" */
  readonly logLevel?: string;
  /** CloudWatch namespace of the function's EMF metrics (`AuditLog/<stage>`). */
  readonly metricsNamespace?: string;
  /**
   * Shell commands run after esbuild, to put more files into the function's asset (`outputDir`,
   * beside `index.mjs`), e.g. the dashboard's browser bundle. Run locally, in `inputDir` (the
   * project root).
   * @default - none
   */
  readonly afterBundling?: (inputDir: string, outputDir: string) => string[];
}

/**
 * One Lambda function with the service's shared defaults, so that every handler is built, logged
 * and permissioned the same way:
 * - nodejs22.x on ARM64 (Graviton: cheaper per GB-second, same JavaScript);
 * - esbuild ESM bundle, minified, with source maps, and with the AWS SDK inside the bundle (the
 *   version we test against is the version that runs, not whatever the runtime ships), whose
 *   credentials come from the environment only (see {@link BUNDLE_ALIASES});
 * - its own log group with a retention period, instead of an unbounded `/aws/lambda/...` group;
 * - its own role with no managed policies: it may write to its log group. Every data permission
 *   is added explicitly by the stack;
 * - no X-Ray tracing: the SDK clients are not instrumented, and a trace without its DynamoDB and S3
 *   calls would only look complete (docs/operations.md). Metrics (EMF) and logs carry the signals.
 */
export class ServiceFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, "LogGroup", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // A role of our own instead of the default one, which would carry the AWSLambdaBasicExecutionRole
    // managed policy (logs:CreateLogGroup and PutLogEvents on every log group in the account).
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `${props.description} (Lambda execution role)`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, "Function", {
      entry: props.entry,
      handler: "handler",
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, "package-lock.json"),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.DISABLED,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? "INFO",
        // Where the EMF metrics go (functions/shared/metrics.ts); the alarms read the same namespace.
        ...(props.metricsNamespace ? { POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace } : {}),
        // Stack traces point into the TypeScript sources instead of the minified bundle. Kept for
        // what it costs (Node 22, fresh processes, medians): ~15–20 ms of init, as Node reads and
        // parses the .map when the bundle loads (post-events 93 → 107 ms, export-worker 121 → 142
        // ms), and ~45–65 ms the first time a container formats an error stack (later ones ~0.1 ms).
        // Stacks are formatted only when an error is logged, and that is when file:line matters.
        NODE_OPTIONS: "--enable-source-maps",
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        // Prefer the ES module builds of dependencies: smaller bundles, better tree shaking.
        mainFields: ["module", "main"],
        minify: true,
        sourceMap: true,
        // Keeps the .map small; stack traces still resolve to file and line.
        sourcesContent: false,
        bundleAwsSDK: true,
        externalModules: [],
        banner: ESM_REQUIRE_BANNER,
        esbuildArgs: {
          "--alias": Object.entries(BUNDLE_ALIASES).map(([name, path]) => `${name}=${path}`),
        },
        ...(props.afterBundling
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: props.afterBundling,
              },
            }
          : {}),
      },
    });

    Validations.of(this.function).acknowledge({
      id: "AwsSolutions-L1",
      reason:
        "Pinned to nodejs22.x on purpose: local runs and tests use the same Node 22 (npm's node-linux-* " +
        "packages, test/unit/runtime.test.ts). Moving to a newer runtime is a tested change, not an automatic one.",
    });
  }
}
