import ipaddr from "ipaddr.js";

/**
 * Whether `ip` is an ordinary public unicast address: not in any of IANA's special-purpose ranges
 * (loopback, private, link-local, carrier-grade NAT, benchmarking 198.18/15, documentation,
 * multicast, broadcast, reserved, unique-local, …, as ipaddr.js classifies them). An IPv4-mapped
 * IPv6 address is judged as the IPv4 address it carries.
 */
export function isPublicAddress(ip: string): boolean {
  if (!ipaddr.isValid(ip)) return false;
  let address = ipaddr.parse(ip);
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) address = address.toIPv4Address();
  return address.range() === "unicast";
}

/** Host names that mean this machine or its local network, whatever DNS says. */
const LOCAL_NAME = /^(localhost|ip6-localhost|ip6-loopback)$|\.(localhost|localdomain|local|internal)$/;

/** Why a host (a name or an IP literal, as in a URL) is not a public destination, or undefined. */
export function hostProblem(hostname: string): string | undefined {
  const host = hostname
    .toLowerCase()
    .replace(/\.$/, "")
    .replace(/^\[(.*)\]$/, "$1");
  if (ipaddr.isValid(host)) {
    return isPublicAddress(host)
      ? undefined
      : "must be a public address, not a private, loopback or reserved one";
  }
  if (LOCAL_NAME.test(host) || host === "localhost.localdomain")
    return "must be a public host, not a local name";
  return undefined;
}
