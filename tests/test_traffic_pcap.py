"""The traffic tool (on loopback only) and the pcap reader."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import traffic
from lab.pcap import LINKTYPE_LINUX_SLL, PcapError, read_packets, udp_frame, write_packets

TOOL = str(Path(traffic.__file__))


def _wait_line(proc, prefix, deadline=5.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no line starting with {prefix!r}")


@pytest.fixture
def echo_server():
    proc = subprocess.Popen([sys.executable, TOOL, "echo", "--port", "47001", "--seconds", "20"],
                            stdout=subprocess.PIPE, text=True)
    try:
        _wait_line(proc, "ready echo")
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)


def test_flows_all_answered_on_loopback(echo_server):
    out = subprocess.run([sys.executable, TOOL, "flows", "--dst", "127.0.0.1", "--port", "47001",
                          "--flows", "16", "--base-sport", "47100"], capture_output=True, text=True, timeout=10)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sent"] == list(range(47100, 47116))
    assert result["answered"] == result["sent"] and result["missing"] == []


def test_flows_report_missing_when_nobody_answers():
    out = subprocess.run([sys.executable, TOOL, "flows", "--dst", "127.0.0.1", "--port", "47002",
                          "--flows", "4", "--base-sport", "47200", "--timeout", "0.5"],
                         capture_output=True, text=True, timeout=10)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["answered"] == [] and result["missing"] == [47200, 47201, 47202, 47203]


def test_stream_summary_on_sigterm(echo_server):
    proc = subprocess.Popen([sys.executable, TOOL, "stream", "--dst", "127.0.0.1", "--port", "47001",
                             "--flows", "4", "--base-sport", "47300", "--interval-ms", "2"],
                            stdout=subprocess.PIPE, text=True)
    while True:  # wait until replies flow, then stop it
        line = proc.stdout.readline()
        if line.startswith("progress") and int(line.split("received=")[1]) > 50:
            break
    proc.send_signal(signal.SIGTERM)
    summary = json.loads(proc.stdout.read().strip().splitlines()[-1])
    proc.wait(5)
    assert summary["lost"] == 0 and summary["received"] == summary["sent"] > 0
    assert summary["loss_window_ms"] == 0


def test_loss_window_is_the_longest_outage_of_one_flow():
    sent_at = {s: s * 0.01 for s in range(40)}  # 10 ms apart, 2 flows round robin
    judged = list(range(40))
    lost = [10, 12, 14, 16]  # flow 0 loses 4 probes: from t=0.10 until its next delivery at t=0.18
    assert traffic.loss_window(judged, lost, sent_at, 2, 0.01) == pytest.approx(0.08)
    assert traffic.loss_window(judged, [], sent_at, 2, 0.01) == 0
    # An outage that lasts until the end counts until the end of the run.
    assert traffic.loss_window(judged, [38], sent_at, 2, 0.01) == pytest.approx(0.02)


def test_pcap_round_trip(tmp_path):
    path = tmp_path / "a.pcap"
    write_packets(path, [(1.5, udp_frame("10.244.1.1", "10.244.2.1", 41000, 5000)),
                         (2.0, udp_frame("10.244.2.1", "10.244.1.1", 5000, 41000)), (2.1, b"\x00" * 10)])
    packets = list(read_packets(path))
    assert [(p.src, p.dst, p.proto, p.sport, p.dport) for p in packets] == [
        ("10.244.1.1", "10.244.2.1", 17, 41000, 5000), ("10.244.2.1", "10.244.1.1", 17, 5000, 41000)]
    assert packets[0].time == pytest.approx(1.5)


def test_pcap_cooked_linktype(tmp_path):
    path = tmp_path / "sll.pcap"
    frame = udp_frame("1.1.1.1", "2.2.2.2", 1, 2)
    write_packets(path, [(0.0, b"\x00" * 14 + frame[12:])], linktype=LINKTYPE_LINUX_SLL)
    assert [(p.src, p.sport) for p in read_packets(path)] == [("1.1.1.1", 1)]


def test_pcap_rejects_garbage(tmp_path):
    path = tmp_path / "bad.pcap"
    path.write_bytes(b"not a pcap file at all, sorry")
    with pytest.raises(PcapError, match="not a libpcap file"):
        list(read_packets(path))
