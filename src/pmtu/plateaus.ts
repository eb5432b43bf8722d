/**
 * MTU plateaus (RFC 1191 §7 table, updated for today's links): the sizes real
 * paths most often have, tried first so most searches end after one round.
 * 9001 AWS jumbo, 9000 jumbo Ethernet, 8981/8951 jumbo minus VXLAN/Geneve,
 * 1500 Ethernet, 1480 IPIP/GRE-ish, 1460 and 1450 VXLAN over 1500 (v4 50 bytes),
 * 1440 WireGuard over 1500 (v4 60), 1420 WireGuard (v6 80), 1400 common cloud
 * overlays, 1380, 1280 the IPv6 minimum (RFC 8200 §5), 576 the IPv4 minimum
 * every host must accept (RFC 791).
 */
export const MTU_PLATEAUS_BYTES: readonly number[] = [9001, 9000, 8981, 8951, 1500, 1480, 1460, 1450, 1440, 1420, 1400, 1380, 1280, 1006, 576];

/** The plateaus strictly inside (minBytes, maxBytes), largest first. */
export function plateausWithin(minBytes: number, maxBytes: number): number[] {
  return MTU_PLATEAUS_BYTES.filter((size) => size > minBytes && size < maxBytes);
}
