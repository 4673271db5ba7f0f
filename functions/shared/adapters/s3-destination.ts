import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { isPublicAddress } from "../net.js";
import type { DestinationBucket, ExportDestination } from "../ports.js";

type Resolver = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: Error | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * A `lookup` for the sockets to a customer's endpoint that resolves the name once and answers only
 * its public addresses, so the connection goes to an address that was checked (no second lookup
 * that DNS could answer differently). A name with no public address fails to connect.
 */
export function publicOnlyLookup(resolve: Resolver = dnsLookup as Resolver): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const usable = addresses.filter((a) => isPublicAddress(a.address));
      if (usable.length === 0) {
        const refused = Object.assign(
          new Error(
            `${hostname} resolves to no public address (${addresses.map((a) => a.address).join(", ")})`,
          ),
          { code: "EADDRNOTPUBLIC" },
        );
        return callback(refused, "", 0);
      }
      const first = usable[0] as LookupAddress;
      // Node asks for every address when it races IPv4 and IPv6 (autoSelectFamily), else for one.
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
      callback(null, first.address, first.family);
    });
  };
}

/** How long one request to a customer's endpoint may take; the caller retries. */
const DESTINATION_TIMEOUT_MS = 30_000;

/**
 * A customer's S3-compatible bucket, with their credentials. One attempt per call (the delivery
 * retries with its own backoff) and a bounded wait, so a dead endpoint costs seconds, not minutes.
 * Connections go only to the public addresses the endpoint's name resolves to
 * ({@link publicOnlyLookup}), unless `allowPrivate` (the local runtime's ALLOW_HTTP_DESTINATIONS).
 */
export function openS3Destination(
  destination: ExportDestination,
  secretAccessKey: string,
  options: { allowPrivate?: boolean } = {},
): DestinationBucket {
  // The local runtime's "customer" is moto on loopback; deployed stacks connect to public addresses only.
  const lookup = options.allowPrivate ? undefined : publicOnlyLookup();
  // Node skips the lookup for an IP literal, so a literal is checked here (one saved before the list
  // of refused ranges grew is refused at every delivery); names go through the lookup.
  const host = destination.endpoint ? new URL(destination.endpoint).hostname.replace(/^\[(.*)\]$/, "$1") : "";
  const literal = !options.allowPrivate && isIP(host) !== 0 && !isPublicAddress(host);
  if (literal) throw new Error(`destination endpoint ${host} is not a public address`);
  const client = new S3Client({
    region: destination.region,
    ...(destination.endpoint ? { endpoint: destination.endpoint } : {}),
    forcePathStyle: destination.forcePathStyle,
    credentials: { accessKeyId: destination.accessKeyId, secretAccessKey },
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: 5_000,
      requestTimeout: DESTINATION_TIMEOUT_MS,
      throwOnRequestTimeout: true,
      ...(lookup
        ? {
            httpsAgent: new HttpsAgent({ keepAlive: true, lookup }),
            httpAgent: new HttpAgent({ keepAlive: true, lookup }),
          }
        : {}),
    },
  });
  return {
    async put(key, body, options) {
      const isBuffer = Buffer.isBuffer(body);
      await client.send(
        new PutObjectCommand({
          Bucket: destination.bucket,
          Key: key,
          Body: isBuffer ? body : (body.body as never),
          ContentLength: isBuffer ? body.length : body.bytes,
          ContentType: options.contentType,
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: options.checksumSha256,
        }),
      );
    },
    /** True, false, or throws when the endpoint cannot say (403 to a write-only key, network). */
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: destination.bucket, Key: key }));
        return true;
      } catch (err: unknown) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404) return false;
        throw err;
      }
    },
  };
}
