/**
 * The event catalogue's types and categories (functions/shared/schemas/catalogue.ts), put into the
 * bundle by esbuild's `define` at build time (scripts/lib/dashboard-assets.ts), so the page offers
 * exactly the types the API accepts without shipping zod to the browser.
 */
export interface CatalogueEntry {
  type: string;
  description: string;
}

declare const __AUDIT_CATALOGUE__: { types: CatalogueEntry[]; categories: string[] };

export const CATALOGUE: { types: CatalogueEntry[]; categories: string[] } = __AUDIT_CATALOGUE__;

export const typesOf = (category: string) => CATALOGUE.types.filter((t) => t.type.startsWith(`${category}.`));
