"""--edgecases-shard=K/N: which jobs one CI job infers, so that N jobs together infer each image once.

A job's shard is a function of its input key alone (keys.input_key, a SHA-256): the same on every
machine, whatever -k, -m or -n select, and balanced, since digests are spread evenly.
"""
from __future__ import annotations

import re
from typing import NamedTuple

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class Shard(NamedTuple):
    """Shard ``k`` of ``n`` (1-based, as users count CI jobs)."""

    k: int
    n: int

    def holds(self, input_key: str) -> bool:
        """Whether the job with this input key is this shard's to infer."""
        return int(input_key[:15], 16) % self.n == self.k - 1

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


def parse_shard(text: str) -> Shard:
    """``K/N`` with 1 <= K <= N; raises ValueError saying what a valid value is."""
    match = _SHARD.match(str(text))
    if not match:
        raise ValueError(f"must be K/N (this job's number and the number of jobs, e.g. 2/4), got {text!r}")
    k, n = int(match[1]), int(match[2])
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"must be K/N with 1 <= K <= N (shards are counted from 1), got {text!r}")
    return Shard(k, n)
