import { GetPublicKeyCommand, type KMSClient, SignCommand } from "@aws-sdk/client-kms";
import type { CheckpointSigner } from "../ports.js";
import { ecdsaVerifierKey, keyIdOfSpki, type NoteSigner, parseVerifierKey } from "../tlog/note.js";
import { translateStorageError } from "./storage-errors.js";

/**
 * Checkpoints signed by a KMS ECC_NIST_P256 key (ECDSA_SHA_256 over the raw note text, which KMS
 * returns DER-encoded: exactly signed-note type 0x02). The private key never leaves KMS; the public
 * key is read once per container.
 */
export class KmsCheckpointSigner implements CheckpointSigner {
  private loaded: Promise<{ signer: NoteSigner; verifierKey: string }> | undefined;

  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
    /** The key's name in notes (c2sp.org/signed-note): the stage's log name. */
    private readonly name: string,
  ) {}

  signer() {
    this.loaded ??= this.load().catch((err: unknown) => {
      this.loaded = undefined;
      throw err;
    });
    return this.loaded;
  }

  private async load() {
    let spki: Buffer | undefined;
    try {
      const out = await this.kms.send(new GetPublicKeyCommand({ KeyId: this.keyId }));
      spki = out.PublicKey ? Buffer.from(out.PublicKey) : undefined;
    } catch (err: unknown) {
      translateStorageError(err, "checkpoint key");
    }
    if (!spki) throw new Error(`KMS returned no public key for ${this.keyId}`);
    // Refuses any key but ECDSA P-256 (moto leaves KeySpec out of GetPublicKey; the key itself says).
    const verifierKey = ecdsaVerifierKey(this.name, spki);
    const verifier = parseVerifierKey(verifierKey);
    const signer: NoteSigner = {
      name: this.name,
      keyId: keyIdOfSpki(spki),
      sign: async (text) => {
        let signature: Buffer | undefined;
        try {
          const out = await this.kms.send(
            new SignCommand({
              KeyId: this.keyId,
              Message: text,
              MessageType: "RAW",
              SigningAlgorithm: "ECDSA_SHA_256",
            }),
          );
          signature = out.Signature ? Buffer.from(out.Signature) : undefined;
        } catch (err: unknown) {
          translateStorageError(err, "checkpoint signature");
        }
        if (!signature) throw new Error("KMS returned no signature");
        // A checkpoint nobody could verify (the alias moved to another key) is never published.
        if (!verifier.verify(text, signature)) {
          throw new Error(`the signature of ${this.keyId} does not verify with the public key read at start`);
        }
        return signature;
      },
    };
    return { signer, verifierKey };
  }
}
