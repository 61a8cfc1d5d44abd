#!/bin/sh
# vip.sh with IPv6: 2001:db8::/32 addresses, VIPs added without duplicate
# address detection, and the client told by unsolicited neighbour
# advertisements instead of gratuitous ARP.
VIP_FAMILY=6
. "$top_srcdir/tests/integration/vip.sh"
