"""Loss per segment and per pair from probe logs and marks. Pure: text and numbers in, figures out.

A probe log (lab/traffic.py `probe`) has one line per probe sent, `s TIME DST SEQ`, and one
per echo received, `r TIME DST SEQ` (TIME: wall-clock seconds). A marks file has one line per
mark, `TIME TEXT`. Marks cut the run into segments: [start, mark1), [mark1, mark2), ...,
[markN, end]. Per segment and pair (`SRC->DST`):

- sent: probes sent in the segment (only those sent before `end`, the judging horizon: the
  caller picks it so that echoes still in flight are not counted as lost);
- lost: of those, the ones never echoed;
- longest outage: the longest time the pair delivered nothing, from the first lost probe of
  a run to the send time of the next delivered probe, or to the end of the segment when none
  follows in it. A run that started in an earlier segment counts from this segment's first
  probe: an outage never exceeds its segment's length.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

Key = tuple[str, int]  # (pair, seq)


@dataclass(frozen=True)
class Probe:
    pair: str
    seq: int
    sent: float


@dataclass(frozen=True)
class PairStats:
    sent: int
    lost: int
    longest_outage_ms: float

    def as_dict(self) -> dict:
        return {"sent": self.sent, "lost": self.lost, "longest_outage_ms": self.longest_outage_ms}


@dataclass(frozen=True)
class Segment:
    index: int
    label: str
    start: float
    end: float
    pairs: Mapping[str, PairStats] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return sum(p.sent for p in self.pairs.values())

    @property
    def lost(self) -> int:
        return sum(p.lost for p in self.pairs.values())

    @property
    def max_outage_ms(self) -> float:
        return max((p.longest_outage_ms for p in self.pairs.values()), default=0.0)

    def worst_pair(self) -> str | None:
        worst = max(self.pairs.items(), key=lambda kv: (kv[1].longest_outage_ms, kv[1].lost), default=None)
        return worst[0] if worst and worst[1].lost else None

    def as_dict(self) -> dict:
        return {"index": self.index, "label": self.label, "start": round(self.start, 6),
                "seconds": round(self.end - self.start, 3), "sent": self.sent, "lost": self.lost,
                "max_outage_ms": self.max_outage_ms,
                "pairs": {k: v.as_dict() for k, v in sorted(self.pairs.items())}}


def parse_probe_log(text: str, src: str, names: Mapping[str, str] | None = None
                    ) -> tuple[list[Probe], dict[Key, float]]:
    """Probes and echoes of one source's log; DST addresses become pair names `SRC->DSTNAME`
    through `names` (address -> pod name). Lines it does not know are skipped."""
    names = names or {}
    sent: list[Probe] = []
    received: dict[Key, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[0] not in ("s", "r"):
            continue
        try:
            stamp, seq = float(parts[1]), int(parts[3])
        except ValueError:
            continue  # a line cut short by a kill
        pair = f"{src}->{names.get(parts[2], parts[2])}"
        if parts[0] == "s":
            sent.append(Probe(pair, seq, stamp))
        else:
            received.setdefault((pair, seq), stamp)
    return sent, received


def parse_marks(text: str) -> list[tuple[float, str]]:
    marks = []
    for line in text.splitlines():
        stamp, _, label = line.partition(" ")
        try:
            marks.append((float(stamp), label.strip()))
        except ValueError:
            continue
    return sorted(marks, key=lambda m: m[0])


def analyze(sent: Iterable[Probe], received: Mapping[Key, float], marks: Sequence[tuple[float, str]],
            start: float, end: float, first_label: str = "start") -> list[Segment]:
    """Segments between marks, each with per-pair figures (see the module docstring)."""
    if end < start:
        end = start
    bounds = [(start, first_label)] + [(min(max(t, start), end), label) for t, label in sorted(marks, key=lambda m: m[0])]
    starts = [b[0] for b in bounds]
    per_segment: list[dict[str, list[Probe]]] = [{} for _ in bounds]
    for probe in sent:
        if not start <= probe.sent < end:
            continue
        # The last segment whose start is <= the probe's send time.
        index = bisect.bisect_right(starts, probe.sent) - 1
        per_segment[index].setdefault(probe.pair, []).append(probe)
    segments = []
    for index, (seg_start, label) in enumerate(bounds):
        seg_end = bounds[index + 1][0] if index + 1 < len(bounds) else end
        pairs = {pair: _pair_stats(probes, received, seg_end) for pair, probes in per_segment[index].items()}
        segments.append(Segment(index, label, seg_start, seg_end, pairs))
    return segments


def _pair_stats(probes: list[Probe], received: Mapping[Key, float], seg_end: float) -> PairStats:
    probes = sorted(probes, key=lambda p: (p.sent, p.seq))
    lost = 0
    longest = 0.0
    run_start: float | None = None
    for probe in probes:
        delivered = (probe.pair, probe.seq) in received
        if not delivered:
            lost += 1
            if run_start is None:
                run_start = probe.sent
        elif run_start is not None:
            longest = max(longest, probe.sent - run_start)
            run_start = None
    if run_start is not None:
        longest = max(longest, seg_end - run_start)
    return PairStats(len(probes), lost, round(longest * 1000, 1))


def totals(segments: Sequence[Segment]) -> dict:
    return {"sent": sum(s.sent for s in segments), "lost": sum(s.lost for s in segments),
            "max_outage_ms": max((s.max_outage_ms for s in segments), default=0.0)}


def format_report(segments: Sequence[Segment]) -> str:
    """One line per segment, then its pairs that lost anything."""
    lines = []
    for seg in segments:
        if seg.index == 0 and not seg.sent:
            continue  # the first mark came at once: nothing before it
        lines.append(f"[{seg.index}] {seg.label or '-'}: {seg.end - seg.start:.1f}s, {seg.sent} sent, "
                     f"{seg.lost} lost, longest outage {seg.max_outage_ms:g} ms")
        for pair, stats in sorted(seg.pairs.items()):
            if stats.lost:
                lines.append(f"      {pair}: {stats.lost}/{stats.sent} lost, outage {stats.longest_outage_ms:g} ms")
    return "\n".join(lines)
