import { ArnFormat, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { destinationSecretPrefix } from "../functions/shared/table.js";

export { DESTINATION_DELIVERY_FAILED } from "../functions/shared/core/destination.js";

export interface DestinationSecretsProps {
  /** The stage name: secrets live under `destinationSecretPrefix(stage)`. */
  readonly stage: string;
}

/**
 * The Secrets Manager names under which customers' export-destination credentials live:
 * `audit-log/<stage>/destinations/<workspaceId>`, one secret per enterprise workspace that set a
 * destination. The secrets are created at runtime by the settings handler, not by CloudFormation,
 * so this construct holds no resource: it only hands out grants on the name prefix.
 *
 * Encryption: the secrets use the AWS-managed key `aws/secretsmanager` (the runtime passes no
 * `KmsKeyId`). Its key policy lets any principal of the account use it through Secrets Manager, so
 * the grants below need no KMS statement, and access to a secret is decided by IAM alone.
 */
export class DestinationSecrets extends Construct {
  /** `DESTINATION_SECRET_PREFIX`: the name prefix, from the module the runtime uses. */
  readonly prefix: string;
  /**
   * `arn:<partition>:secretsmanager:<region>:<account>:secret:audit-log/<stage>/destinations/*`. The
   * trailing `*` covers the workspace id and the six random characters Secrets Manager appends to
   * every secret ARN (and CreateSecret is authorized against the ARN before that suffix exists).
   */
  readonly arnPattern: string;

  constructor(scope: Construct, id: string, props: DestinationSecretsProps) {
    super(scope, id);
    this.prefix = destinationSecretPrefix(props.stage);
    this.arnPattern = Stack.of(this).formatArn({
      service: "secretsmanager",
      resource: "secret",
      resourceName: `${this.prefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * The settings handler stores a workspace's secret access key: PutSecretValue, or CreateSecret
   * when the secret does not exist yet. It never reads a value back.
   */
  grantWrite(role: iam.Role): void {
    this.grant(
      role,
      ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"],
      "Destination secrets are created at runtime, one per workspace, so their names are known only by " +
        "prefix. Write only (create, new version), and only under this stage's destinations prefix.",
    );
  }

  /** The nightly export reads a workspace's secret access key to deliver to its bucket. */
  grantRead(role: iam.Role): void {
    this.grant(
      role,
      ["secretsmanager:GetSecretValue"],
      "Destination secrets are created at runtime, one per workspace, so their names are known only by " +
        "prefix. Read only (GetSecretValue), and only under this stage's destinations prefix.",
    );
  }

  /** One statement on the prefix; the wildcard finding is acknowledged on this one role only. */
  private grant(role: iam.Role, actions: string[], reason: string): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [this.arnPattern] }));
    const resource = `arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${this.prefix}*`;
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
  }
}
