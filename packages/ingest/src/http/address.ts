/**
 * The SSRF guard's address policy: which IP addresses a fetch may connect to.
 * Pure; the connector (agent.ts) and the literal-IP check (get.ts) call it.
 */
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/** Decides whether a connection to one IP address (no brackets) is allowed. */
export type AddressPolicy = (address: string) => boolean;

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * True for a globally routable unicast address. Refused: 0.0.0.0/8, loopback,
 * RFC 1918, link-local (169.254/16, fe80::/10), CGNAT 100.64/10, multicast,
 * broadcast, reserved and documentation ranges, ::, ::1, fc00::/7, every
 * IPv4-mapped address (::ffff:0:0/96), 6to4, Teredo and other special IPv6
 * ranges. NAT64 (64:ff9b::/96) is judged by the IPv4 address it embeds.
 */
export function isPublicAddress(addr: Addr): boolean {
  if (addr.kind() === "ipv4") return addr.range() === "unicast";
  const v6 = addr as ipaddr.IPv6;
  const range = v6.range();
  if (range === "unicast") return true;
  if (range === "rfc6052" && v6.parts[2] === 0) {
    const p = v6.parts;
    const v4 = new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
    return v4.range() === "unicast";
  }
  return false;
}

/**
 * Builds the policy from `allowPrivate`. Each entry is an IP address ("127.0.0.1",
 * "::1"), a CIDR ("10.0.0.0/8", "fd00::/8") or "*" (guard off). An entry matches
 * addresses of its own family only, in the form connected to: "127.0.0.1" does
 * not allow "::ffff:127.0.0.1" (list the mapped form separately if wanted).
 * Public addresses are always allowed. Throws on a malformed entry.
 */
export function createAddressPolicy(allowPrivate: readonly string[] = []): AddressPolicy {
  if (allowPrivate.includes("*")) return () => true;
  const allowed: [Addr, number][] = allowPrivate.map((entry) => {
    const text = entry.trim();
    try {
      if (text.includes("/")) return ipaddr.parseCIDR(text);
      if (!isIP(text)) throw new Error("not an IP address");
      const addr = ipaddr.parse(text);
      return [addr, addr.kind() === "ipv4" ? 32 : 128];
    } catch (cause) {
      throw new TypeError(`allowPrivate: invalid entry "${entry}" (want an IP, a CIDR or "*")`, { cause });
    }
  });
  return (address) => {
    const ip = parseIp(address);
    if (!ip) return false;
    if (isPublicAddress(ip)) return true;
    for (const [net, bits] of allowed) {
      if (net.kind() === ip.kind() && ip.match(net, bits)) return true;
    }
    return false;
  };
}

/** Parses a literal IP address (brackets allowed); null for anything else, such as a host name. */
export function parseIp(text: string): Addr | null {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!isIP(bare)) return null;
  return ipaddr.parse(bare);
}
