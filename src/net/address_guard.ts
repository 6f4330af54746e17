/**
 * Which network addresses an admin-API destination may reach. Admin API input is untrusted: without
 * this guard a subscription could make the relay call its own loopback services, the cloud metadata
 * endpoint or the private network (SSRF). Pure functions over parsed addresses, so every decision is
 * testable as data; {@link ./guarded_fetch.ts} applies them at connect time.
 *
 * Addresses are parsed the way WHATWG URL parses hosts, so odd IPv4 spellings (`2130706433`,
 * `0x7f.1`, `0177.0.0.1`, `127.1`) are the addresses they mean.
 *
 * @module
 */

/** A parsed IP address: its family and its value as a 32- or 128-bit integer. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** Why an address is not a public destination. */
export type AddressCategory =
  | "loopback"
  | "link-local"
  | "private"
  | "unspecified"
  | "multicast"
  | "shared (CGNAT)"
  | "broadcast"
  | "reserved";

/** The operator's exceptions (`RELAY_ALLOW_PRIVATE_DESTINATIONS`): ranges and host names. */
export interface AddressAllowlist {
  readonly ranges: readonly Cidr[];
  /** Lower-case host names, without a trailing dot. */
  readonly hosts: readonly string[];
}

/** A CIDR range. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly base: bigint;
  readonly prefix: number;
}

/** The guard's answer for one address. */
export type GuardDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly category: AddressCategory; readonly reason: string };

/** No exceptions: the default. */
export const EMPTY_ALLOWLIST: AddressAllowlist = Object.freeze({ ranges: [], hosts: [] });

/** Parses an IP literal (IPv4 in any WHATWG form, IPv6 with or without brackets), else undefined. */
export function parseIp(text: string): IpAddress | undefined {
  const t = text.trim();
  if (t.includes(":")) return parseIpv6(t.replace(/^\[|\]$/g, ""));
  let host: string;
  try {
    host = new URL(`http://${t}/`).hostname;
  } catch {
    return undefined;
  }
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (!m || t.includes("/") || t.includes("@")) return undefined;
  const value = m.slice(1).reduce((acc, part) => (acc << 8n) | BigInt(part), 0n);
  return { family: 4, value };
}

function parseIpv6(text: string): IpAddress | undefined {
  let host: string;
  try {
    host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  // WHATWG output is compressed lower-case hex groups; expand "::".
  const [head, tail] = host.includes("::") ? host.split("::") : [host, undefined];
  const h = head ? head.split(":") : [];
  const t = tail === undefined ? [] : tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8) return undefined;
  const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  return { family: 6, value };
}

/** Parses `a.b.c.d/n`, `v6/n` or a bare address (a single-address range). */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, bits, extra] = text.trim().split("/");
  if (extra !== undefined) return undefined;
  const ip = parseIp(addr);
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  return { family: ip.family, base: ip.value & mask(ip.family, prefix), prefix };
}

function mask(family: 4 | 6, prefix: number): bigint {
  const width = family === 4 ? 32n : 128n;
  const all = (1n << width) - 1n;
  return prefix === 0 ? 0n : (all >> (width - BigInt(prefix))) << (width - BigInt(prefix));
}

/** Whether `ip` is inside `range`. */
export function inCidr(ip: IpAddress, range: Cidr): boolean {
  return ip.family === range.family && (ip.value & mask(ip.family, range.prefix)) === range.base;
}

const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * Parses `RELAY_ALLOW_PRIVATE_DESTINATIONS`: a comma list of CIDRs, addresses and host names.
 *
 * @throws {Error} naming the first entry that is none of those.
 */
export function parseAllowlist(text: string | undefined): AddressAllowlist {
  const ranges: Cidr[] = [];
  const hosts: string[] = [];
  for (const raw of (text ?? "").split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    const range = parseCidr(entry);
    if (range) ranges.push(range);
    else if (!entry.includes("/") && HOST_NAME.test(entry.replace(/\.$/, ""))) {
      hosts.push(entry.replace(/\.$/, ""));
    } else throw new Error(`"${raw.trim()}" is neither a CIDR, an IP address nor a host name`);
  }
  return { ranges, hosts };
}

type Rule = readonly [string, AddressCategory];
const V4_RULES: readonly Rule[] = [
  ["0.0.0.0/8", "unspecified"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "shared (CGNAT)"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"],
  ["192.0.2.0/24", "reserved"],
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "reserved"],
  ["198.51.100.0/24", "reserved"],
  ["203.0.113.0/24", "reserved"],
  ["224.0.0.0/4", "multicast"],
  ["255.255.255.255/32", "broadcast"],
  ["240.0.0.0/4", "reserved"],
];
const V6_RULES: readonly Rule[] = [
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["100::/64", "reserved"],
  ["2001:db8::/32", "reserved"],
  ["fc00::/7", "private"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "private"],
  ["ff00::/8", "multicast"],
  ["::/96", "reserved"],
];
const compile = (rules: readonly Rule[]) =>
  rules.map(([cidr, category]) => [parseCidr(cidr)!, category] as const);
const V4 = compile(V4_RULES);
const V6 = compile(V6_RULES);
/** IPv6 ranges that carry an IPv4 address in their low 32 bits: mapped, NAT64. */
const EMBEDS_V4 = ["::ffff:0:0/96", "64:ff9b::/96"].map((c) => parseCidr(c)!);

/** The category of a non-public address; undefined for a public one. */
export function classify(ip: IpAddress): AddressCategory | undefined {
  if (ip.family === 6 && EMBEDS_V4.some((r) => inCidr(ip, r))) {
    return classify({ family: 4, value: ip.value & 0xffffffffn });
  }
  for (const [range, category] of ip.family === 4 ? V4 : V6) {
    if (inCidr(ip, range)) return category;
  }
  return undefined;
}

/**
 * May a destination named `host` connect to `address`? Public addresses always; others only when
 * the allowlist names the host or holds the address.
 */
export function checkAddress(
  address: string,
  host: string,
  allowlist: AddressAllowlist,
): GuardDecision {
  const ip = parseIp(address);
  if (!ip) {
    return { allowed: false, category: "reserved", reason: `"${address}" is not an IP address` };
  }
  const category = classify(ip);
  if (category === undefined) return { allowed: true };
  const name = host.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (allowlist.hosts.includes(name) || allowlist.ranges.some((r) => inCidr(ip, r))) {
    return { allowed: true };
  }
  const shown = host === address ? address : `${host} (${address})`;
  return {
    allowed: false,
    category,
    reason: `${shown} is a ${category} address; ` +
      "add it to RELAY_ALLOW_PRIVATE_DESTINATIONS to allow it",
  };
}
