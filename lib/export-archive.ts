import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";

export interface ExportArchiveProps {
  /** Default COMPLIANCE-mode retention of every export object, in days. */
  readonly objectLockDays: number;
  /**
   * Lifecycle expiry of export objects, in days after creation.
   * @default - exports are kept for ever
   */
  readonly exportExpirationDays?: number;
  /** Lifecycle expiry of the server access logs, in days. */
  readonly accessLogExpirationDays: number;
  /**
   * Applied to both buckets. A bucket that still holds objects cannot be deleted whatever this
   * says, and locked object versions cannot be deleted until their retention ends.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Layer 4 of the immutability design: the bucket that receives the nightly exports. Object Lock in
 * COMPLIANCE mode means no principal, the account root included, can delete a locked object version
 * or shorten its retention until it expires.
 *
 * Encryption is SSE-S3 on purpose: with a customer-managed KMS key, scheduling that key's deletion
 * would make locked exports unreadable, a way around Object Lock that SSE-S3 does not offer.
 */
export class ExportArchive extends Construct {
  readonly bucket: s3.Bucket;
  /** Server access logs of {@link bucket}: every read and write of an export, with its caller. */
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: ExportArchiveProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.accessLogs = new s3.Bucket(this, "AccessLogs", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      lifecycleRules: [{ expiration: Duration.days(props.accessLogExpirationDays) }],
      removalPolicy,
    });
    // cdk-nag's S1 (server access logging) accepts a bucket that is itself the log target.

    this.bucket = new s3.Bucket(this, "Bucket", {
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(props.objectLockDays)),
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: "export-bucket/",
      lifecycleRules: [
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
        // Export files only (nightly days and on-demand exports): the verifiable log's tiles and
        // checkpoints under `log/` are never expired, or a dev stage's sealer would lose its edge tiles.
        ...(props.exportExpirationDays === undefined
          ? []
          : (["exports/", "on-demand/"] as const).map((prefix) => ({
              id: `expire-${prefix.slice(0, -1)}`,
              prefix,
              expiration: Duration.days(props.exportExpirationDays as number),
              // Only removes versions whose lock has ended; S3 refuses earlier deletes.
              noncurrentVersionExpiration: Duration.days(1),
            }))),
      ],
      removalPolicy,
    });
  }

  /** Get and list only: manifests read back, download URLs presigned. */
  grantExportRead(role: iam.Role): void {
    this.grantObjects(
      role,
      ["s3:GetObject"],
      "Export keys are per workspace and day or per export id; GetObject needs the bucket's object ARN " +
        "pattern. Read-only: no put, no delete.",
    );
  }

  /**
   * What the export job needs: write an object (with its retention, possibly as a multipart upload
   * it may abort), read it back to verify it, list what a previous, interrupted run already wrote so
   * it can resume, and read retention. No DeleteObject, no BypassGovernanceRetention, no bucket
   * configuration.
   */
  grantExportWrite(role: iam.Role): void {
    this.grantObjects(
      role,
      [
        "s3:PutObject",
        "s3:PutObjectRetention",
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:GetObjectRetention",
      ],
      "Export object keys are chosen per run (workspace, date, chunk); object actions need the " +
        "bucket's object ARN pattern. The bucket is dedicated to exports and Object Lock protects it.",
    );
  }

  /**
   * Object actions on every key plus ListBucket (without it a missing key answers 403, not
   * NoSuchKey). The wildcard finding is acknowledged on this one role only.
   */
  private grantObjects(role: iam.Role, actions: string[], reason: string): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions, resources: [this.bucket.arnForObjects("*")] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ["s3:ListBucket"], resources: [this.bucket.bucketArn] }),
    );
    const logicalId = Stack.of(this).resolve((this.bucket.node.defaultChild as s3.CfnBucket).logicalId);
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/*]`, reason });
  }
}
