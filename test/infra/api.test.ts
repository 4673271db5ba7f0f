import { describe, expect, it } from "vitest";
import { ROUTES } from "../../functions/shared/routes.js";
import { STAGES } from "../../lib/stages.js";
import { functionLogicalId, logicalIdOf, synthCached } from "./support/synth.js";

describe.each(["dev", "prod"] as const)("HTTP API (%s)", (stage) => {
  const s = synthCached(stage);
  const routes = Object.values(s.template.findResources("AWS::ApiGatewayV2::Route"));
  const integrations = s.template.findResources("AWS::ApiGatewayV2::Integration");
  const stages = Object.values(s.template.findResources("AWS::ApiGatewayV2::Stage"));

  it("is an HTTP API with exactly one route per ROUTES entry", () => {
    s.template.resourceCountIs("AWS::ApiGatewayV2::Api", 1);
    s.template.hasResourceProperties("AWS::ApiGatewayV2::Api", { ProtocolType: "HTTP" });
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(
      ROUTES.map((r) => `${r.method} ${r.path}`).sort(),
    );
  });

  it.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r.handler] as const))(
    "%s goes to the %s function with payload format 2.0",
    (routeKey, handler) => {
      const route = routes.find((r) => r.Properties.RouteKey === routeKey);
      const target = route?.Properties.Target["Fn::Join"][1][1].Ref as string;
      const integration = integrations[target]?.Properties;
      expect(integration).toMatchObject({ IntegrationType: "AWS_PROXY", PayloadFormatVersion: "2.0" });
      expect(integration.IntegrationUri).toEqual({ "Fn::GetAtt": [functionLogicalId(s, handler), "Arn"] });
    },
  );

  it("throttles the $default stage with the stage's rate and burst", () => {
    expect(stages).toHaveLength(1);
    expect(stages[0]?.Properties).toMatchObject({
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: STAGES[stage].throttle.rateLimit,
        ThrottlingBurstLimit: STAGES[stage].throttle.burstLimit,
      },
    });
  });

  it("writes one JSON access log line per request, with the caller's source IP, to a retained log group", () => {
    const settings = stages[0]?.Properties.AccessLogSettings;
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: "$context.requestId",
      sourceIp: "$context.identity.sourceIp",
      routeKey: "$context.routeKey",
      status: "$context.status",
      requestTime: "$context.requestTime",
      userAgent: "$context.identity.userAgent",
    });
    const groupId = logicalIdOf(s.stack.http.accessLogs);
    expect(settings.DestinationArn).toEqual({ "Fn::GetAtt": [groupId, "Arn"] });
    expect(s.template.findResources("AWS::Logs::LogGroup")[groupId]?.Properties.RetentionInDays).toBe(
      STAGES[stage].apiAccessLogRetention,
    );
  });

  it("allows only the configured browser origins", () => {
    s.template.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      CorsConfiguration: { AllowOrigins: [...STAGES[stage].corsAllowOrigins] },
    });
  });
});
