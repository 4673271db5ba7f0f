import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { RouteDef } from "../functions/shared/routes.js";

/**
 * One JSON object per request. `sourceIp` is the TCP peer as API Gateway saw it; together with the
 * request id it ties an access log line to the event the handler stored.
 */
export const ACCESS_LOG_FIELDS = {
  requestId: "$context.requestId",
  extendedRequestId: "$context.extendedRequestId",
  requestTime: "$context.requestTime",
  requestTimeEpoch: "$context.requestTimeEpoch",
  sourceIp: "$context.identity.sourceIp",
  userAgent: "$context.identity.userAgent",
  httpMethod: "$context.httpMethod",
  path: "$context.path",
  routeKey: "$context.routeKey",
  protocol: "$context.protocol",
  status: "$context.status",
  responseLength: "$context.responseLength",
  responseLatency: "$context.responseLatency",
  integrationStatus: "$context.integrationStatus",
  integrationLatency: "$context.integrationLatency",
  integrationError: "$context.integrationErrorMessage",
  error: "$context.error.message",
} as const;

export interface AuditHttpApiProps {
  /** Name shown in the API Gateway console, e.g. `audit-log-prod`. */
  readonly apiName: string;
  /** The route table from `functions/shared/routes.ts`. */
  readonly routes: readonly RouteDef[];
  /** Handler folder name → its function. Every `route.handler` must be present. */
  readonly functions: ReadonlyMap<string, lambda.IFunction>;
  /** Default route throttling of the `$default` stage. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Browser origins allowed by CORS.
   * @default - no CORS configuration: browsers may not call the API from another origin
   */
  readonly corsAllowOrigins?: readonly string[];
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly accessLogRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly accessLogRemovalPolicy?: RemovalPolicy;
}

/**
 * The HTTP API (payload format 2.0): one route per `ROUTES` entry, each integrated with the Lambda
 * function of its handler folder, a throttled `$default` stage, and JSON access logs.
 *
 * Authentication happens inside the handlers (a hashed API key looked up in the control table, which
 * also yields the workspace), so the routes carry no API Gateway authorizer.
 */
export class AuditHttpApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AuditHttpApiProps) {
    super(scope, id);
    const origins = props.corsAllowOrigins ?? [];

    this.api = new apigw.HttpApi(this, "Api", {
      apiName: props.apiName,
      description: "Immutable audit log API",
      createDefaultStage: false,
      corsPreflight:
        origins.length === 0
          ? undefined
          : {
              allowOrigins: [...origins],
              allowMethods: corsMethods(props.routes),
              allowHeaders: ["authorization", "content-type"],
              maxAge: Duration.hours(1),
            },
    });

    this.accessLogs = new logs.LogGroup(this, "AccessLogs", {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.accessLogRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.stage = new apigw.HttpStage(this, "DefaultStage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    const integrations = new Map<string, HttpLambdaIntegration>();
    for (const route of props.routes) {
      const fn = props.functions.get(route.handler);
      if (fn === undefined) {
        throw new Error(`route ${route.method} ${route.path}: no function for handler "${route.handler}"`);
      }
      let integration = integrations.get(route.handler);
      if (integration === undefined) {
        integration = new HttpLambdaIntegration(`${route.handler}-integration`, fn, {
          payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
        });
        integrations.set(route.handler, integration);
      }
      for (const httpRoute of this.api.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration,
      })) {
        Validations.of(httpRoute).acknowledge({
          id: "AwsSolutions-APIG4",
          reason:
            route.scope === null
              ? `${route.method} ${route.path} is public by design (health check, API description, the dashboard page, whose browser code authenticates to the API).`
              : `${route.method} ${route.path} is authenticated in its handler: the bearer key is ` +
                `hashed and looked up in the control table, which yields the workspace and the ` +
                `${[route.scope]
                  .flat()
                  .map((scope) => `'${scope}'`)
                  .join(" or ")} scope. An API Gateway authorizer would duplicate that lookup.`,
        });
      }
    }
  }

  /** The base URL of the `$default` stage, ending in `/`. */
  get url(): string {
    return this.stage.url;
  }
}

/** The methods the routes use, plus OPTIONS for the preflight itself. */
function corsMethods(routes: readonly RouteDef[]): apigw.CorsHttpMethod[] {
  const methods = new Set<apigw.CorsHttpMethod>(routes.map((r) => apigw.CorsHttpMethod[r.method]));
  methods.add(apigw.CorsHttpMethod.OPTIONS);
  return [...methods];
}
