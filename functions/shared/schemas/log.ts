import * as z from "zod";

/** The verifiable log's API shapes (docs/integrity.md). */
const b64Hash = z.string().meta({ description: "Base64 of a 32-byte SHA-256 hash." });
const treeSize = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,15})$/, "must be a tree size (a decimal integer)")
  .transform(Number)
  .refine(Number.isSafeInteger, "must be a tree size (a decimal integer)");

export const consistencyQuerySchema = z
  .strictObject({
    from: treeSize.meta({ description: "The size of a checkpoint you hold (at least 1)." }),
    to: treeSize.optional().meta({ description: "Default: the latest checkpoint's size." }),
  })
  .refine((q) => q.from >= 1, {
    message: "must be at least 1 (nothing is consistent with the empty tree in a way worth proving)",
    path: ["from"],
  })
  .meta({ id: "ConsistencyQuery" });

export const consistencySchema = z
  .object({
    from: z.number().int(),
    to: z.number().int(),
    proof: z.array(b64Hash).meta({ description: "RFC 6962 §2.1.2 consistency proof, in order." }),
    checkpoint: z.string().meta({ description: "The latest signed checkpoint (a C2SP signed note)." }),
  })
  .meta({ id: "ConsistencyProof" });

export const eventProofSchema = z
  .object({
    id: z.string(),
    index: z.number().int().meta({ description: "The event's leaf index in its workspace's tree." }),
    treeSize: z.number().int(),
    leafHash: b64Hash.meta({ description: "SHA-256(0x00 ‖ the event's canonical JSON without `hash`)." }),
    inclusion: z.array(b64Hash).meta({ description: "RFC 6962 §2.1.1 audit path, deepest sibling first." }),
    checkpoint: z
      .string()
      .meta({ description: "The signed checkpoint of size `treeSize` the proof is against." }),
  })
  .meta({ id: "EventProof" });

export const logKeySchema = z
  .object({
    verifierKey: z
      .string()
      .meta({ description: "`<name>+<key id>+<base64(0x02 ‖ SPKI)>`: pin it out of band." }),
    keyName: z.string(),
    origin: z.string().meta({ description: "The first line of this workspace's checkpoints." }),
    signatureType: z.string(),
  })
  .meta({ id: "LogKey" });
