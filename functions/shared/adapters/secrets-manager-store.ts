import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { SecretStore } from "../ports.js";
import { translateStorageError } from "./storage-errors.js";

/**
 * Secrets in AWS Secrets Manager (the stack limits each function to its own name prefix). The
 * client is asked for on first use, so handlers that never touch a secret never build one.
 */
export class SecretsManagerStore implements SecretStore {
  constructor(private readonly clientOf: () => SecretsManagerClient) {}

  private get client(): SecretsManagerClient {
    return this.clientOf();
  }

  async put(name: string, value: string): Promise<void> {
    try {
      await this.client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    } catch (err: unknown) {
      if (!(err instanceof Error && err.name === "ResourceNotFoundException")) {
        translateStorageError(err, "secret put");
      }
      try {
        await this.client.send(new CreateSecretCommand({ Name: name, SecretString: value }));
      } catch (created: unknown) {
        translateStorageError(created, "secret create");
      }
    }
  }

  async get(name: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
      return out.SecretString;
    } catch (err: unknown) {
      if (err instanceof Error && err.name === "ResourceNotFoundException") return undefined;
      translateStorageError(err, "secret get");
    }
  }
}
