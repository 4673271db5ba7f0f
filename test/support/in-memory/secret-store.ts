import type { SecretStore } from "../../../functions/shared/ports.js";

/** Secrets in memory: a put stores a new version, a get reads the latest. */
export class InMemorySecretStore implements SecretStore {
  private readonly secrets = new Map<string, string>();

  async put(name: string, value: string): Promise<void> {
    this.secrets.set(name, value);
  }

  async get(name: string): Promise<string | undefined> {
    return this.secrets.get(name);
  }
}
