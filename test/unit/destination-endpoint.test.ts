import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { openS3Destination, publicOnlyLookup } from "../../functions/shared/adapters/s3-destination.js";
import { endpointProblem } from "../../functions/shared/core/settings.js";
import type { ExportDestination } from "../../functions/shared/ports.js";

/** A stored destination at `endpoint` (the rest is never used: nothing is sent). */
const destinationAt = (endpoint: string): ExportDestination => ({
  endpoint,
  region: "us-east-1",
  bucket: "b",
  prefix: "",
  accessKeyId: "AKIA",
  forcePathStyle: true,
  secretName: "s",
  updatedAt: "2026-03-09T00:00:00.000Z",
});

const HTTPS = "must be an https URL";
const PRIVATE = "must be a public address, not a private, loopback or reserved one";
const LOCAL = "must be a public host, not a local name";
const CREDENTIALS = "must not carry credentials; use accessKeyId and secretAccessKey";

describe("customer destination endpoints", () => {
  it("a deployed stack takes public https endpoints only, and says why it refuses the others", () => {
    const expected: Record<string, string> = {
      "https://s3.eu-central-1.amazonaws.com": "accepted",
      "https://acme.r2.cloudflarestorage.com": "accepted",
      "https://minio.acme.example:9000": "accepted",
      "https://fd-backup.acme.example": "accepted",
      "https://100.128.0.1": "accepted",
      "http://s3.eu-central-1.amazonaws.com": HTTPS,
      "https://127.0.0.1": PRIVATE,
      "https://localhost:9000": LOCAL,
      "https://localhost.:9000": LOCAL,
      "https://localhost.localdomain": LOCAL,
      "https://ip6-localhost": LOCAL,
      "https://minio.localhost": LOCAL,
      "https://s3.corp.internal": LOCAL,
      "https://198.18.0.1": PRIVATE,
      "https://198.19.255.254": PRIVATE,
      "https://224.0.0.1": PRIVATE,
      "https://239.255.255.250": PRIVATE,
      "https://255.255.255.255": PRIVATE,
      "https://192.0.2.1": PRIVATE,
      "https://240.0.0.1": PRIVATE,
      "https://[2001:4860:4860::8888]": "accepted",
      "https://[::ffff:8.8.8.8]": "accepted",
      "https://[ff02::1]": PRIVATE,
      "https://[fe80::1]": PRIVATE,
      "https://169.254.169.254": PRIVATE,
      "https://10.0.0.5": PRIVATE,
      "https://172.16.3.4": PRIVATE,
      "https://192.168.1.10": PRIVATE,
      "https://100.64.0.1": PRIVATE,
      "https://0.0.0.0": PRIVATE,
      "https://[::1]": PRIVATE,
      "https://[fd00::1]": PRIVATE,
      "https://[::ffff:7f00:1]": PRIVATE,
      "https://user:pass@s3.amazonaws.com": CREDENTIALS,
    };
    const actual = Object.fromEntries(
      Object.keys(expected).map((endpoint) => [endpoint, endpointProblem(endpoint, false) ?? "accepted"]),
    );
    expect(actual).toEqual(expected);
  });

  it("the local runtime may use moto over http on loopback, still without credentials in the URL", () => {
    const local = ["http://127.0.0.1:5000", "http://a:b@127.0.0.1:5000"].map(
      (endpoint) => endpointProblem(endpoint, true) ?? "accepted",
    );
    expect(local).toEqual(["accepted", CREDENTIALS]);
  });
});

describe("connecting to a customer's endpoint", () => {
  /** A resolver that answers from a table (no DNS is asked), as dns.lookup with `all: true` does. */
  const resolver =
    (table: Record<string, string[]>) =>
    (host: string, _options: unknown, callback: (err: Error | null, addresses: LookupAddress[]) => void) =>
      callback(
        null,
        (table[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 })),
      );
  const lookupOf = (table: Record<string, string[]>, all: boolean) =>
    new Promise<{ err: (Error & { code?: string }) | null; result: unknown }>((resolve) =>
      publicOnlyLookup(resolver(table) as never)("bucket.acme.example", { all }, (err, address, family) =>
        resolve({ err, result: all ? address : [address, family] }),
      ),
    );

  it("answers only the public addresses a name resolves to", async () => {
    const { err, result } = await lookupOf({ "bucket.acme.example": ["10.0.0.5", "8.8.8.8", "::1"] }, true);
    expect(err).toBeNull();
    expect(result).toEqual([{ address: "8.8.8.8", family: 4 }]);
    const one = await lookupOf({ "bucket.acme.example": ["169.254.169.254", "2001:4860:4860::8888"] }, false);
    expect(one.result).toEqual(["2001:4860:4860::8888", 6]);
  });

  it("refuses a name that resolves only to private, loopback or metadata addresses", async () => {
    const { err } = await lookupOf(
      { "bucket.acme.example": ["127.0.0.1", "169.254.169.254", "198.18.0.7"] },
      true,
    );
    expect(err?.code).toBe("EADDRNOTPUBLIC");
    expect(err?.message).toContain("169.254.169.254");
  });

  it("is what a deployed destination's client connects through: a name for loopback never gets a connection", async () => {
    // `localhost` resolves from /etc/hosts, without the network; the static check would refuse the
    // name, so this shows the connection-time check on its own.
    const bucket = openS3Destination(destinationAt("https://localhost:9"), "secret");
    await expect(bucket.exists("k")).rejects.toThrow(/resolves to no public address/);
  });
});

describe("a destination saved before the refused ranges grew", () => {
  it("is refused at delivery when its endpoint is a non-public IP literal (no lookup happens for one)", () => {
    expect(() => openS3Destination(destinationAt("https://198.18.0.1"), "secret")).toThrow(
      /198\.18\.0\.1 is not a public address/,
    );
  });
});
