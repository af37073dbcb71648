"""MetricLines: how stdout chunks become ``[tune-metric]`` lines, however the pipe cuts them."""

from __future__ import annotations

import random

from aiotune.backends._metric_lines import MetricLines

TEXT = (
    b"epoch 1\n[tune-metric]: {\"a\": 1}\nnoise [tune-metric] inside\n\n"
    b"[tune-metric]: {\"a\": 2}\nlast [tune-metric]: {\"a\": 3}"
)
EXPECTED = [
    b'[tune-metric]: {"a": 1}',
    b"noise [tune-metric] inside",
    b'[tune-metric]: {"a": 2}',
    b'last [tune-metric]: {"a": 3}',
]


def run(chunks: list[bytes], max_line: int = 1 << 20) -> list[bytes]:
    lines = MetricLines(max_line)
    out = [line for chunk in chunks for line in lines.feed(chunk)]
    return out + lines.close()


def test_every_cut_of_the_stream_gives_the_same_lines() -> None:
    rng = random.Random(0)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(TEXT)), rng.randint(0, 12)))
        chunks = [TEXT[a:b] for a, b in zip([0, *cuts], [*cuts, len(TEXT)], strict=True)]
        assert run(chunks) == EXPECTED, chunks
    assert run([bytes([c]) for c in TEXT]) == EXPECTED


def test_an_overlong_line_is_skipped_whole_and_the_next_line_is_kept() -> None:
    long_line = b"[tune-metric]: {" + b"x" * 100 + b"}\n"
    chunks = [long_line[:30], long_line[30:60], long_line[60:] + b'[tune-metric]: {"b": 1}\n']
    assert run(chunks, max_line=50) == [b'[tune-metric]: {"b": 1}']
    # the tail of the skipped line carries the tag: still not taken for a line of its own
    tail_tagged = [b"y" * 60, b' [tune-metric]: {"c": 1}\n', b'[tune-metric]: {"d": 1}']
    assert run(tail_tagged, max_line=50) == [b'[tune-metric]: {"d": 1}']


def test_a_line_at_the_limit_is_kept() -> None:
    line = b"[tune-metric]: {" + b"x" * 20 + b"}"
    assert run([line[:10], line[10:], b"\n"], max_line=len(line)) == [line]
    assert run([line[:10], line[10:]], max_line=len(line)) == [line]
