import { describe, expect, it } from "vitest";
import { createAddressPolicy, parseIp } from "./address.ts";

describe("createAddressPolicy with no allowance", () => {
  const allows = createAddressPolicy();
  it.each([
    "0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "100.64.0.1", "100.127.255.254", "224.0.0.1", "239.255.255.250", "255.255.255.255",
    "240.0.0.1", "192.0.2.1", "198.18.0.1",
    "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:7f00:1",
    "::ffff:8.8.8.8", "64:ff9b::127.0.0.1", "64:ff9b::a00:1", "2002:7f00:1::1", "2001:db8::1",
  ])("refuses %s", (address) => {
    expect(allows(address)).toBe(false);
  });
  it.each(["8.8.8.8", "1.1.1.1", "93.184.215.14", "100.63.255.255", "172.32.0.1", "2606:4700:4700::1111", "2a00:1450::1", "64:ff9b::808:808"])(
    "allows public %s",
    (address) => {
      expect(allows(address)).toBe(true);
    },
  );
  it("refuses anything that is not an IP address", () => {
    expect(allows("localhost")).toBe(false);
    expect(allows("")).toBe(false);
  });
});

describe("createAddressPolicy with an allowance", () => {
  it("an address entry allows exactly that address, in its own family", () => {
    const allows = createAddressPolicy(["127.0.0.1"]);
    expect(allows("127.0.0.1")).toBe(true);
    expect(allows("127.0.0.2")).toBe(false);
    expect(allows("::ffff:127.0.0.1")).toBe(false);
    expect(allows("::1")).toBe(false);
    expect(allows("10.0.0.1")).toBe(false);
  });
  it("CIDR entries allow their range", () => {
    const allows = createAddressPolicy(["10.0.0.0/8", "fd00::/8", "::ffff:0:0/96"]);
    expect(allows("10.200.3.4")).toBe(true);
    expect(allows("11.0.0.1")).toBe(true); // public anyway
    expect(allows("192.168.0.1")).toBe(false);
    expect(allows("fd00::5")).toBe(true);
    expect(allows("fc00::5")).toBe(false);
    expect(allows("::ffff:127.0.0.1")).toBe(true);
    expect(allows("127.0.0.1")).toBe(false);
  });
  it('"*" turns the guard off', () => {
    const allows = createAddressPolicy(["*"]);
    expect(allows("169.254.169.254")).toBe(true);
    expect(allows("::1")).toBe(true);
  });
  it.each(["localhost", "10.0.0.0/33", "not an ip", "1.2.3"])("throws on the malformed entry %j", (entry) => {
    expect(() => createAddressPolicy([entry])).toThrow(/allowPrivate: invalid entry/);
  });
});

describe("parseIp", () => {
  it("reads literals with or without brackets and nothing else", () => {
    expect(parseIp("[::1]")?.kind()).toBe("ipv6");
    expect(parseIp("127.0.0.1")?.kind()).toBe("ipv4");
    expect(parseIp("example.com")).toBeNull();
    expect(parseIp("2130706433")).toBeNull();
  });
});
