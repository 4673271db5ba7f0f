import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SecretStore } from "../../functions/shared/ports.js";

/**
 * The SecretStore port's documented behaviour: put creates the secret or stores a new version of
 * it, get reads the latest, and an absent secret is undefined. `store` is made once per suite.
 */
export function secretStoreContract(name: string, factory: () => Promise<SecretStore>): void {
  describe(`SecretStore contract: ${name}`, () => {
    const secretName = () => `audit-log/contract/${randomUUID()}`;

    it("creates a secret on its first put and reads the latest version after each next one", async () => {
      // Prepare
      const store = await factory();
      const name = secretName();

      // Act
      await store.put(name, "first");
      const first = await store.get(name);
      await store.put(name, "second");

      // Assert
      expect(first).toBe("first");
      expect(await store.get(name)).toBe("second");
    });

    it("answers undefined for a secret never put", async () => {
      // Act
      const read = await (await factory()).get(secretName());

      // Assert
      expect(read).toBeUndefined();
    });
  });
}
