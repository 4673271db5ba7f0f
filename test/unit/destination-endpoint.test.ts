import { describe, expect, it } from "vitest";
import { checkEndpoint } from "../../functions/shared/core/settings.js";
import { ValidationError } from "../../functions/shared/errors.js";

describe("customer destination endpoints on a deployed stack", () => {
  it.each([
    "https://s3.eu-central-1.amazonaws.com",
    "https://acme.r2.cloudflarestorage.com",
    "https://minio.acme.example:9000",
    "https://fd-backup.acme.example",
    "https://100.128.0.1",
  ])("accepts the public https endpoint %s", (endpoint) => {
    expect(checkEndpoint(endpoint, false)).toBeUndefined();
  });

  it.each([
    "http://s3.eu-central-1.amazonaws.com",
    "https://127.0.0.1",
    "https://localhost:9000",
    "https://169.254.169.254",
    "https://10.0.0.5",
    "https://172.16.3.4",
    "https://192.168.1.10",
    "https://[::1]",
    "https://[fd00::1]",
    "https://[::ffff:7f00:1]",
    "https://100.64.0.1",
    "https://0.0.0.0",
    "https://user:pass@s3.amazonaws.com",
  ])("refuses %s with a validation error", (endpoint) => {
    expect(() => checkEndpoint(endpoint, false)).toThrow(ValidationError);
  });

  it("lets the local runtime use moto over http on loopback, still without credentials in the URL", () => {
    expect(checkEndpoint("http://127.0.0.1:5000", true)).toBeUndefined();
    expect(() => checkEndpoint("http://a:b@127.0.0.1:5000", true)).toThrow(ValidationError);
  });
});
