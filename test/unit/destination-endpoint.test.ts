import { describe, expect, it } from "vitest";
import { endpointProblem } from "../../functions/shared/core/settings.js";

const HTTPS = "must be an https URL";
const PRIVATE = "must be a public host, not a private or loopback address";
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
      "https://localhost:9000": PRIVATE,
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
