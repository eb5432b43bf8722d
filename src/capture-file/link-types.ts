import { LinkType } from '../decode/types';

/**
 * Link-type numbers as files carry them, mapped onto the decoder's LinkType
 * (https://www.tcpdump.org/linktypes.html). Old files carry DLT_ values where the
 * LINKTYPE_ registry later picked others: DLT_RAW is 12 on most systems and 14 on
 * OpenBSD, both LINKTYPE_RAW (101). DLT_LOOP (108, OpenBSD loopback) has the
 * address family in network byte order; the NULL decoder tries both orders.
 * Returns null for link types the decoder does not know.
 */
export function normaliseLinkType(fileLinkType: number): LinkType | null {
  // pcap's header keeps FCS information in the upper bits (pcap-savefile(5), LT_FCS_*).
  const linkType = fileLinkType & 0xffff;
  switch (linkType) {
    case 0:
    case 108:
      return LinkType.NULL;
    case 1:
      return LinkType.ETHERNET;
    case 12:
    case 14:
    case 101:
      return LinkType.RAW;
    case 113:
      return LinkType.LINUX_SLL;
    case 228:
      return LinkType.IPV4;
    case 229:
      return LinkType.IPV6;
    case 276:
      return LinkType.LINUX_SLL2;
    default:
      return null;
  }
}
