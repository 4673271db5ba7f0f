import type { ChildProcess } from "node:child_process";
import { chooseDynamoEngine, type DynamoEngine, startDynoxide } from "./dynoxide.js";
import { startMoto } from "./moto.js";

/** Where the local engines listen: moto for S3, KMS, SQS and Secrets Manager; DynamoDB apart. */
export interface EngineEndpoints {
  /** moto: every service but DynamoDB (`AWS_ENDPOINT_URL`). */
  aws: string;
  /** Dynoxide, or moto when it is the fallback (`AWS_ENDPOINT_URL_DYNAMODB`). */
  dynamodb: string;
}

export interface LocalEngines extends EngineEndpoints {
  dynamoEngine: DynamoEngine;
  /** Resolves when either engine process exits. */
  exited: Promise<{ engine: string; code: number | null }>;
  /** The engine processes (tests pause one with SIGSTOP). */
  processes: { moto: ChildProcess; dynamodb?: ChildProcess };
  stop(): Promise<void>;
}

/**
 * Starts moto and the DynamoDB engine (Dynoxide unless it is missing or `DYNAMODB_ENGINE=moto`) on
 * free loopback ports, in parallel.
 */
export async function startEngines(
  options: { motoPort?: number; dynamoPort?: number; quiet?: boolean; log?: (line: string) => void } = {},
): Promise<LocalEngines> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const choice = chooseDynamoEngine(log);
  const [moto, dynoxide] = await Promise.all([
    startMoto({ port: options.motoPort, quiet: options.quiet }),
    choice.bin ? startDynoxide(choice.bin, { port: options.dynamoPort, quiet: options.quiet }) : undefined,
  ]);
  const exitOf = (engine: string, child: ChildProcess) =>
    new Promise<{ engine: string; code: number | null }>((r) =>
      child.once("exit", (code) => r({ engine, code })),
    );
  return {
    aws: moto.endpoint,
    dynamodb: dynoxide?.endpoint ?? moto.endpoint,
    dynamoEngine: choice.engine,
    exited: Promise.race([
      exitOf("moto", moto.process),
      ...(dynoxide ? [exitOf("dynoxide", dynoxide.process)] : []),
    ]),
    processes: { moto: moto.process, dynamodb: dynoxide?.process },
    stop: async () => {
      await Promise.all([moto.stop(), dynoxide?.stop()]);
    },
  };
}
