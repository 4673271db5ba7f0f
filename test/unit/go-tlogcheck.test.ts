import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GoTlogRequest, goTlogCheck, goTlogCheckBinary } from "../support/go-tlog.js";

/**
 * Checks the independent Go checker itself (test/go/tlogcheck), with a tree, keys and notes made
 * here by hand, so that a later failure against our service points at our code and not at the
 * checker. Nothing here imports the service's Merkle code.
 */

const sha256 = (...parts: Uint8Array[]) => createHash("sha256").update(Buffer.concat(parts)).digest();
const leaf = (data: Uint8Array) => sha256(Buffer.from([0]), data);
const node = (l: Uint8Array, r: Uint8Array) => sha256(Buffer.from([1]), l, r);
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

interface NoteKey {
  name: string;
  privateKey: KeyObject;
  keyId: Buffer;
  verifierKey: string;
}

/** A P-256 key as a C2SP signed-note key of type 0x02 (transparency-dev's ECDSA verifier). */
function noteKey(name: string): NoteKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const keyId = sha256(spki).subarray(0, 4);
  const verifierKey = `${name}+${keyId.toString("hex")}+${b64(Buffer.concat([Buffer.from([0x02]), spki]))}`;
  return { name, privateKey, keyId, verifierKey };
}

/** `text` (ending in a newline), a blank line, and one signature line per signer. */
function signNote(text: string, ...signers: { key: NoteKey; keyId?: Buffer }[]): string {
  const lines = signers.map(({ key, keyId }) => {
    const sig = sign("sha256", Buffer.from(text), key.privateKey); // ASN.1 DER, as the verifier wants
    return `\u2014 ${key.name} ${b64(Buffer.concat([keyId ?? key.keyId, sig]))}\n`;
  });
  return `${text}\n${lines.join("")}`;
}

const origin = "audit.example/test/log/ws-selfcheck";

// The five-leaf tree of RFC 6962, by hand:
//            root
//          /      \
//        m03       l4
//       /   \
//     m01   m23
//    /  \   /  \
//   l0  l1 l2  l3
const data = ["a", "b", "c", "d", "e"].map((s) => Buffer.from(`{"event":"${s}"}`));
const [l0, l1, l2, l3, l4] = data.map(leaf) as [Buffer, Buffer, Buffer, Buffer, Buffer];
const m01 = node(l0, l1);
const m23 = node(l2, l3);
const m03 = node(m01, m23);
const root5 = node(m03, l4);
const root3 = node(m01, l2);
const checkpoint5 = `${origin}\n5\n${b64(root5)}\n`;

describe("the independent Go checker (test/go/tlogcheck)", () => {
  const key = noteKey("audit.example-test");
  const base = (): GoTlogRequest => ({
    verifierKey: key.verifierKey,
    origin,
    checkpoint: signNote(checkpoint5, { key }),
    inclusion: [{ index: 2, leafData: b64(data[2] as Buffer), proof: [l3, m01, l4].map(b64) }],
    consistency: [{ oldSize: 3, oldRoot: b64(root3), proof: [l2, l3, m01, l4].map(b64) }],
  });

  beforeAll(async () => {
    await goTlogCheckBinary(); // a cold build takes a while; keep it out of the first test's timeout
  }, 300_000);

  it("accepts a checkpoint signed by the pinned key, with its inclusion and consistency proofs", async () => {
    const result = await goTlogCheck(base());

    expect(result).toMatchObject({ ok: true, exitCode: 0, errors: [], origin, size: 5, root: b64(root5) });
    expect(result.extensions).toEqual([]);
  });

  it("accepts extension lines after the root and reports them", async () => {
    const text = `${checkpoint5}time 2026-03-09T09:44:19.000Z\n`;

    const result = await goTlogCheck({ ...base(), checkpoint: signNote(text, { key }) });

    expect(result).toMatchObject({ ok: true, errors: [], extensions: ["time 2026-03-09T09:44:19.000Z"] });
  });

  it("accepts the pinned key's signature among signatures by keys it does not know", async () => {
    const other = noteKey("someone-else");

    const result = await goTlogCheck({
      ...base(),
      checkpoint: signNote(checkpoint5, { key: other }, { key }),
    });

    expect(result.errors).toEqual([]);
  });

  it("rejects a checkpoint signed by another key under the same name", async () => {
    const other = noteKey(key.name);

    const result = await goTlogCheck({ ...base(), checkpoint: signNote(checkpoint5, { key: other }) });

    expect(result.ok).toBe(false);
    expect(result.exitCode).toBe(1);
    expect(result.errors).toEqual([
      expect.stringMatching(/^checkpoint signature: .*no verifiable signatures/),
    ]);
  });

  it("rejects another key's signature that claims the pinned key's id", async () => {
    const other = noteKey(key.name);

    const result = await goTlogCheck({
      ...base(),
      checkpoint: signNote(checkpoint5, { key: other, keyId: key.keyId }),
    });

    expect(result.errors).toEqual([expect.stringMatching(/^checkpoint signature: .*invalid signature/)]);
  });

  it("rejects a checkpoint whose text was changed after signing", async () => {
    const signed = signNote(checkpoint5, { key });

    const result = await goTlogCheck({ ...base(), checkpoint: signed.replace("\n5\n", "\n4\n") });

    expect(result.errors).toEqual([expect.stringMatching(/^checkpoint signature: /)]);
  });

  it("rejects a wrong origin, naming both", async () => {
    const result = await goTlogCheck({ ...base(), origin: `${origin}-other` });

    expect(result.ok).toBe(false);
    expect(result.errors).toEqual([`checkpoint origin "${origin}", want "${origin}-other"`]);
  });

  it("rejects an inclusion proof with one flipped bit, naming the index", async () => {
    const request = base();
    const proof = [l3, m01, l4].map((h) => Buffer.from(h));
    const flipped = proof[1] as Buffer;
    flipped[7] = (flipped[7] as number) ^ 0x01;
    request.inclusion = [{ index: 2, leafData: b64(data[2] as Buffer), proof: proof.map(b64) }];

    const result = await goTlogCheck(request);

    expect(result.ok).toBe(false);
    expect(result.errors).toEqual([
      expect.stringMatching(
        /^inclusion\[0\] \(index 2\): CheckRecord against size 5: invalid transparency proof$/,
      ),
    ]);
  });

  it("rejects a proof for the wrong leaf data and a consistency proof from the wrong old root", async () => {
    const request = base();
    request.inclusion = [{ index: 2, leafData: b64(data[3] as Buffer), proof: [l3, m01, l4].map(b64) }];
    request.consistency = [{ oldSize: 3, oldRoot: b64(m01), proof: [l2, l3, m01, l4].map(b64) }];

    const result = await goTlogCheck(request);

    expect(result.errors).toEqual([
      expect.stringMatching(/^inclusion\[0\] \(index 2\): /),
      expect.stringMatching(/^consistency\[0\] \(old size 3\): CheckTree /),
    ]);
  });

  it("calls a malformed request bad input, so it cannot pass for a rejection", async () => {
    await expect(goTlogCheck({ ...base(), verifierKey: "not-a-key" })).rejects.toThrow(
      /bad input: verifierKey/,
    );
  });
});

/** RFC 6962 MTH over leaf hashes, recursively (test-only; small trees). */
function mth(hashes: readonly Buffer[]): Buffer {
  if (hashes.length === 0) return sha256();
  if (hashes.length === 1) return hashes[0] as Buffer;
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return node(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
}

/** RFC 6962 PATH(m, D[n]): the inclusion proof of leaf m. */
function path(m: number, hashes: readonly Buffer[]): Buffer[] {
  if (hashes.length <= 1) return [];
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return m < k
    ? [...path(m, hashes.slice(0, k)), mth(hashes.slice(k))]
    : [...path(m - k, hashes.slice(k)), mth(hashes.slice(0, k))];
}

/** C2SP tlog-tiles over leaf hashes: every tile path (`tile/L/N[.p/W]`) and its bytes. */
function tiles(hashes: readonly Buffer[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const index = (n: number) => {
    let s = String(n % 1000).padStart(3, "0");
    for (let rest = Math.floor(n / 1000); rest > 0; rest = Math.floor(rest / 1000)) {
      s = `x${String(rest % 1000).padStart(3, "0")}/${s}`;
    }
    return s;
  };
  let level = [...hashes];
  for (let l = 0; level.length > 0; l++) {
    for (let n = 0; n * 256 < level.length; n++) {
      const part = level.slice(n * 256, n * 256 + 256);
      out.set(`tile/${l}/${index(n)}${part.length < 256 ? `.p/${part.length}` : ""}`, Buffer.concat(part));
    }
    // The next level holds the roots of full tiles only.
    level = Array.from({ length: Math.floor(level.length / 256) }, (_, n) =>
      mth(level.slice(n * 256, n * 256 + 256)),
    );
  }
  return out;
}

describe("the Go checker reading C2SP tiles over HTTP", () => {
  const key = noteKey("audit.example-tiles");
  const size = 600; // two full level-0 tiles, a partial one, and a partial level-1 tile
  const leafData = Array.from({ length: size }, (_, i) => Buffer.from(`{"n":${i}}`));
  const hashes = leafData.map(leaf);
  const root = mth(hashes);
  const served = tiles(hashes);
  const requests: { url: string; auth: string | undefined }[] = [];
  let tamper: ((path: string, body: Buffer) => Buffer) | undefined;
  let server: Server;
  let tileBaseUrl: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? "", auth: req.headers.authorization });
      const path = (req.url ?? "").replace(/^\/v1\/log\//, "");
      const body = served.get(path);
      if (!body) {
        res.writeHead(404).end("no such tile");
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(tamper?.(path, body) ?? body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    tileBaseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/log/`;
    await goTlogCheckBinary();
  }, 300_000);

  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  const request = (index: number): GoTlogRequest => ({
    verifierKey: key.verifierKey,
    origin,
    checkpoint: signNote(`${origin}\n${size}\n${b64(root)}\n`, { key }),
    tileBaseUrl,
    authorization: "Bearer test-token",
    inclusion: [{ index, leafData: b64(leafData[index] as Buffer), proof: path(index, hashes).map(b64) }],
  });

  it("recomputes the root from the tiles and derives the same inclusion proof", async () => {
    tamper = undefined;
    requests.length = 0;

    const result = await goTlogCheck(request(513));

    expect(result.errors).toEqual([]);
    expect([...served.keys()].sort()).toEqual([
      "tile/0/000",
      "tile/0/001",
      "tile/0/002.p/88",
      "tile/1/000.p/2",
    ]);
    expect(result.tiles).toEqual(expect.arrayContaining(["tile/1/000.p/2 200", "tile/0/002.p/88 200"]));
    expect(requests.every((r) => r.auth === "Bearer test-token")).toBe(true);
  });

  it("rejects a tile with one changed byte", async () => {
    tamper = (path, body) => {
      if (path !== "tile/0/001") return body;
      const copy = Buffer.from(body);
      copy[40] = (copy[40] as number) ^ 0xff;
      return copy;
    };

    const result = await goTlogCheck(request(300));

    expect(result.ok).toBe(false);
    expect(result.errors).toEqual([
      expect.stringMatching(/^inclusion\[0\] \(index 300\): tiles: .*inconsistent tile/),
    ]);
  });

  it("falls back to the full tile when a partial one is gone, as tlog-tiles allows", async () => {
    // The log has grown to 768 leaves: tile/0/002 is now full and its partial tiles may be deleted.
    const grown = tiles([
      ...hashes,
      ...Array.from({ length: 168 }, (_, i) => leaf(Buffer.from(`{"m":${i}}`))),
    ]);
    const saved = new Map(served);
    served.delete("tile/0/002.p/88");
    served.set("tile/0/002", grown.get("tile/0/002") as Buffer);
    tamper = undefined;

    try {
      const result = await goTlogCheck(request(599));

      expect(result.errors).toEqual([]);
      expect(result.tiles).toEqual(expect.arrayContaining(["tile/0/002.p/88 404", "tile/0/002 200"]));
    } finally {
      served.clear();
      for (const [k, v] of saved) served.set(k, v);
    }
  });

  it("rejects a log whose tiles are missing", async () => {
    tamper = undefined;

    const result = await goTlogCheck({ ...request(3), tileBaseUrl: `${tileBaseUrl}nowhere/` });

    expect(result.errors).toEqual([
      expect.stringMatching(
        /^tiles: TreeHash\(600\): GET tile\/1\/000\.p\/2: status 404, then GET tile\/1\/000: status 404: no such tile$/,
      ),
    ]);
  });
});
