"""`lab.capture TARGET any` writes Linux cooked captures: SLL2 (link type 276) from libpcap >= 1.10,
SLL (113) from older ones. The reader parses both (it used to raise on 276 after the pcap was
written). The frames here are built byte by byte from the layout in the tcpdump.org link-type
pages, not with the reader's own code."""

from __future__ import annotations

import struct

import pytest

from lab.pcap import PcapError, read_packets

IPV4_UDP = bytes.fromhex(
    "45000021" "00000000" "4011" "0000"   # version/IHL, length 33; id, flags; TTL 64, UDP; checksum
    "0af40101" "0af40201"                 # 10.244.1.1 -> 10.244.2.1
    "a0280fa0" "000d0000" "78"            # UDP 41000 -> 4000, length 13; payload "x"
)
# SLL2: protocol type 0x0800, reserved, interface index 3, ARPHRD_ETHER (1), packet type 4
# (outgoing), link-layer address length 6, address padded to 8 bytes.
SLL2_HEADER = bytes.fromhex("0800" "0000" "00000003" "0001" "04" "06" "0204060810120000")
# SLL: packet type 4, ARPHRD_ETHER, address length 6, address (8 bytes), protocol 0x0800.
SLL_HEADER = bytes.fromhex("0004" "0001" "0006" "0204060810120000" "0800")
ARP_SLL2 = bytes.fromhex("0806" "0000" "00000003" "0001" "00" "06" "0204060810120000") + b"\x00" * 28


def _pcap(linktype: int, frames: list[bytes], big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    out = struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    for i, frame in enumerate(frames):
        out += struct.pack(order + "IIII", 1700000000 + i, 250000, len(frame), len(frame)) + frame
    return out


@pytest.mark.parametrize("linktype,header", [(276, SLL2_HEADER), (113, SLL_HEADER)])
@pytest.mark.parametrize("big_endian", [False, True])
def test_cooked_captures_are_read(linktype, header, big_endian, tmp_path):
    path = tmp_path / "any.pcap"
    path.write_bytes(_pcap(linktype, [header + IPV4_UDP, ARP_SLL2 if linktype == 276 else header[:14] + b"\x08\x06",
                                      header + IPV4_UDP], big_endian))
    packets = list(read_packets(path))
    assert [(p.src, p.dst, p.proto, p.sport, p.dport) for p in packets] == [("10.244.1.1", "10.244.2.1", 17, 41000, 4000)] * 2
    assert packets[0].time == pytest.approx(1700000000.25)


def test_an_unknown_link_type_is_a_pcap_error_naming_the_supported_ones(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(_pcap(228, [IPV4_UDP]))  # raw IPv4
    with pytest.raises(PcapError, match="unsupported link type 228 .*276"):
        list(read_packets(path))


def test_a_truncated_cooked_frame_is_skipped(tmp_path):
    path = tmp_path / "short.pcap"
    path.write_bytes(_pcap(276, [SLL2_HEADER + IPV4_UDP[:10], SLL2_HEADER + IPV4_UDP]))
    assert len(list(read_packets(path))) == 1
