import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * Module-scope SDK clients, made once per Lambda container. Endpoints come from the standard
 * `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_DYNAMODB` variables, which the local runtime and tests
 * point at moto and Dynoxide. Short timeouts turn
 * a hung connection into a 503 long before API Gateway's 30 s; without `throwOnRequestTimeout` the
 * SDK only logs a warning when a request overruns and keeps waiting.
 */
export const API_REQUEST_TIMEOUT_MS = 5_000;
/** Jobs (exports) page through large result sets and upload 8 MiB parts: a longer leash. */
export const JOB_REQUEST_TIMEOUT_MS = 60_000;

function clientConfig(requestTimeout = API_REQUEST_TIMEOUT_MS) {
  return {
    maxAttempts: 3,
    retryMode: "standard",
    requestHandler: { connectionTimeout: 1_000, requestTimeout, throwOnRequestTimeout: true },
  } as const;
}
const common = clientConfig();

let documentClient: DynamoDBDocumentClient | undefined;
let s3: S3Client | undefined;
let secrets: SecretsManagerClient | undefined;
let sqs: SQSClient | undefined;

export function sqsClient(): SQSClient {
  sqs ??= new SQSClient(common);
  return sqs;
}

/** A new document client with the service's defaults; `endpoint` overrides AWS_ENDPOINT_URL. */
export function newDocumentClient(endpoint?: string, requestTimeout?: number): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...clientConfig(requestTimeout), ...(endpoint ? { endpoint } : {}) }),
    {
      marshallOptions: { removeUndefinedValues: true },
    },
  );
}

export function dynamoDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= newDocumentClient();
  return documentClient;
}

export function s3Client(forcePathStyle = false): S3Client {
  s3 ??= new S3Client({ ...clientConfig(JOB_REQUEST_TIMEOUT_MS), forcePathStyle });
  return s3;
}

let kms: KMSClient | undefined;

export function kmsClient(): KMSClient {
  kms ??= new KMSClient(common);
  return kms;
}

export function secretsClient(): SecretsManagerClient {
  secrets ??= new SecretsManagerClient(common);
  return secrets;
}
