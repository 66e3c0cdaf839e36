"""Exit 1 unless two results files (--edgecases-results) give each category the same verdict.

.ci/run runs the example suite under today's releases and under every declared floor: the floors
must not only run, they must judge alike. Probabilities may differ in the last digits between
PyTorch releases, so accuracy is compared to the example, not the float.
"""
from __future__ import annotations

import json
import sys


def verdicts(path: str) -> dict[str, tuple]:
    data = json.load(open(path, encoding="utf-8"))
    return {f"{c['suite_file']}::{c['category']}": (c["passed"], c["n_correct"], c["n_scored"], c["error"])
            for c in data["categories"]}


if __name__ == "__main__":
    now, floors = verdicts(sys.argv[1]), verdicts(sys.argv[2])
    differ = sorted(k for k in now.keys() | floors.keys() if now.get(k) != floors.get(k))
    for key in differ:
        print(f"ci: {key}: latest {now.get(key)} vs floors {floors.get(key)} (passed, correct, scored, error)")
    print(f"ci: {len(now) - len(differ)} of {len(now)} categories judged alike under the floors")
    sys.exit(1 if differ or not now else 0)
