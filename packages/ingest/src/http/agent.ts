/**
 * One undici Agent per HttpLimits object (keep-alive, reused across polls), whose
 * connector enforces the SSRF guard on the address actually connected to: host
 * names are resolved once, inside the connect, and every resolved address must
 * pass the policy before a socket is opened; the socket's remote address is
 * checked again once connected. A name that resolves to any refused address is
 * refused as a whole.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction, type Socket } from "node:net";
import { Agent, buildConnector } from "undici";
import { IngestError } from "../errors.ts";
import { createAddressPolicy, type AddressPolicy } from "./address.ts";

/** Resolves a host name to all its addresses (default: the system resolver, dns.lookup). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface AgentOptions {
  connectTimeoutMs: number;
  /** Request headers and body idle limits for undici itself (the caller also runs a total timer). */
  timeoutMs: number;
  allowPrivate?: readonly string[];
  lookup?: Resolver;
}

export interface GuardedAgent {
  agent: Agent;
  allows: AddressPolicy;
}

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

export function blockedError(host: string, address: string): IngestError {
  const shown = address === host ? address : `${host} (${address})`;
  return new IngestError("blocked_address", `refused to connect to non-public address ${shown}`);
}

/** A net/tls `lookup` that resolves with `resolve` and fails unless every address is allowed. */
function guardedLookup(resolve: Resolver, allows: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (all) => {
        const family = options.family === 4 || options.family === "IPv4" ? 4
          : options.family === 6 || options.family === "IPv6" ? 6 : 0;
        const addresses = family ? all.filter((a) => a.family === family) : all;
        const refused = all.find((a) => !allows(a.address));
        if (refused) return callback(blockedError(hostname, refused.address), "", 0);
        const first = addresses[0];
        if (!first) {
          const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
          err.code = "ENOTFOUND";
          return callback(err, "", 0);
        }
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, "", 0),
    );
  };
}

export function createGuardedAgent(opts: AgentOptions): GuardedAgent {
  const allows = createAddressPolicy(opts.allowPrivate);
  const base = buildConnector({
    timeout: opts.connectTimeoutMs,
    lookup: guardedLookup(opts.lookup ?? systemResolver, allows),
  });
  const connect: buildConnector.connector = (options, callback) => {
    // net.connect skips `lookup` for an IP literal, so literals are checked here.
    const host = options.hostname;
    if (isIP(host) && !allows(host)) return callback(blockedError(host, host), null);
    base(options, (err, socket) => {
      if (err) return callback(err, null);
      const remote = (socket as Socket).remoteAddress;
      if (remote !== undefined && !allows(remote)) {
        socket.destroy();
        return callback(blockedError(host, remote), null);
      }
      callback(null, socket);
    });
  };
  const agent = new Agent({
    connect,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    keepAliveTimeout: 4_000,
  });
  return { agent, allows };
}
