import { parseCheckpoint, splitNote } from "../../functions/shared/tlog/note.js";
import { CliError, EXIT } from "./exit.js";

/** A C2SP checkpoint note (GET /v1/log/checkpoint) as JSON, parsed by the service's own note code. */
export interface CheckpointJson {
  origin: string;
  size: number;
  /** Base64 root hash. */
  root: string;
  extensions: string[];
  /** The note's signature lines, not verified here (`verify` checks them against a pinned key). */
  signatures: { name: string; keyId: string; signature: string }[];
  /** The note exactly as served. */
  note: string;
}

export function checkpointJson(note: string): CheckpointJson {
  try {
    const { text, signatures } = splitNote(note);
    const cp = parseCheckpoint(text);
    return {
      origin: cp.origin,
      size: cp.size,
      root: cp.root.toString("base64"),
      extensions: cp.extensions,
      signatures: signatures.map((s) => ({
        name: s.name,
        keyId: s.keyId.toString(16).padStart(8, "0"),
        signature: s.signature.toString("base64"),
      })),
      note,
    };
  } catch (err: unknown) {
    throw new CliError(
      `the API's checkpoint is not a signed checkpoint note: ${(err as Error).message}`,
      EXIT.api,
    );
  }
}
