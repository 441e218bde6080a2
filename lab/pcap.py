"""Just enough of the classic pcap format to count flows in tcpdump's captures.

tcpdump writes `-w` files in libpcap format (not pcapng) with the interface's
link type; lab interfaces are Ethernet (veth); `-i any` gives Linux cooked
captures: SLL (link type 113, 16-byte header, protocol in its last two bytes)
from older tcpdump, SLL2 (link type 276, 20-byte header, protocol in its first
two bytes) from libpcap >= 1.10. IPv4 UDP/TCP/ICMP is all the checks need.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
# link type -> (bytes before the IP header, offset of the 2-byte EtherType/protocol field)
_LINK_HEADERS = {LINKTYPE_ETHERNET: (14, 12), LINKTYPE_LINUX_SLL: (16, 14), LINKTYPE_LINUX_SLL2: (20, 0)}
_MAGICS = {0xA1B2C3D4: ("<", 1e-6), 0xD4C3B2A1: (">", 1e-6), 0xA1B23C4D: ("<", 1e-9), 0x4D3CB2A1: (">", 1e-9)}


class PcapError(ValueError):
    pass


@dataclass(frozen=True)
class Packet:
    time: float
    src: str
    dst: str
    proto: int  # 1 icmp, 6 tcp, 17 udp
    sport: int | None
    dport: int | None


def _ip(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def read_packets(path: str | Path) -> Iterator[Packet]:
    data = Path(path).read_bytes()
    if len(data) < 24:
        raise PcapError(f"{path}: not a pcap file (too short)")
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in _MAGICS:
        raise PcapError(f"{path}: not a libpcap file (magic {magic:#x})")
    order, unit = _MAGICS[magic]
    linktype = struct.unpack(order + "I", data[20:24])[0]
    if linktype not in _LINK_HEADERS:
        raise PcapError(f"{path}: unsupported link type {linktype} (supported: "
                        f"{', '.join(map(str, sorted(_LINK_HEADERS)))})")
    l2, proto_at = _LINK_HEADERS[linktype]
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(order + "IIII", data[offset:offset + 16])
        frame = data[offset + 16: offset + 16 + caplen]
        offset += 16 + caplen
        packet = _parse(frame, l2, proto_at, sec + frac * unit)
        if packet is not None:
            yield packet


def _parse(frame: bytes, l2: int, proto_at: int, when: float) -> Packet | None:
    if len(frame) < l2 + 20:
        return None
    ethertype = struct.unpack("!H", frame[proto_at:proto_at + 2])[0]
    if ethertype != 0x0800:
        return None
    ip = frame[l2:]
    ihl = (ip[0] & 0x0F) * 4
    proto = ip[9]
    src, dst = _ip(ip[12:16]), _ip(ip[16:20])
    sport = dport = None
    if proto in (6, 17) and len(ip) >= ihl + 4:
        sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
    return Packet(when, src, dst, proto, sport, dport)


def write_packets(path: str | Path, packets: list[tuple[float, bytes]], linktype: int = LINKTYPE_ETHERNET) -> None:
    """Write frames as a pcap file (used by tests to build captures with known content)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
    for when, frame in packets:
        sec = int(when)
        out += struct.pack("<IIII", sec, int((when - sec) * 1e6), len(frame), len(frame)) + frame
    Path(path).write_bytes(bytes(out))


def udp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes = b"x") -> bytes:
    """An Ethernet/IPv4/UDP frame (checksums zero: the reader does not check them)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes(int(x) for x in src.split(".")), bytes(int(x) for x in dst.split(".")))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp

