/**
 * Where SDK clients get credentials in the Lambda bundles: from the environment only, where Lambda
 * puts the execution role's keys. lib/service-function.ts aliases `@aws-sdk/credential-provider-node`
 * to this module, so the `defaultProvider` that every client's runtime config imports is this one,
 * and the rest of the default chain (ini files, SSO, STS web identity, IMDS: about 120 KB of each
 * bundle) is left out. Passing `credentials: fromEnv()` to the clients would not do it: the import
 * stays, and the whole chain with it. It is a module of its own because clients.ts imports the
 * clients that import it. Outside the bundles (tsx: the local runtime, tests, `npm run admin --
 * --stage`, which may use AWS_PROFILE) the SDK keeps its full default chain.
 */
export { fromEnv as defaultProvider } from "@aws-sdk/credential-provider-env";
