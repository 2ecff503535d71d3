"""Delta Lake interop between Python Metaxy 0.1.11 and metaxy-rs.

Driven by crates/metaxy-delta/tests/interop.rs; needs `pip install "metaxy[delta]==0.1.11"`.

    python delta_interop.py record ROOT OUT.json
        Runs a small video pipeline with Python Metaxy's DeltaMetadataStore at ROOT: a root
        feature with `audio` and `frames` fields, a transcript that depends on audio only and
        thumbnails that depend on frames only; increments written; then audio changes for some
        videos, new videos arrive, one is soft-deleted and one hard-deleted. Writes a golden
        case (format 1) of everything Python computed. The steps from index `checks_from` on
        are reads and resolves of the final state: metaxy-rs runs them against ROOT.

    python delta_interop.py check ROOT CASE.json OUT.json
        Opens a store metaxy-rs wrote at ROOT (by replaying the case), records the same reads
        and resolves as Python sees them, then appends the downstream increments to the tables
        metaxy-rs created (schema merge) and records the resolves again (now empty).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from record_cases import (  # noqa: E402
    ALGORITHMS,
    DeltaMetadataStore,
    Recorder,
    build_graph,
    dep,
    field,
    spec,
)

ALGORITHM = "xxhash64"
TRUNCATION = 16
ROOT_KEY = "interop/video"
DOWNSTREAM = ["interop/transcript", "interop/thumbnails"]
FEATURES = [ROOT_KEY] + DOWNSTREAM


class Pipeline:
    """The fixed scenario's specs, in record_cases' Scenario shape."""

    def __init__(self, specs=None):
        ids = ["video_id"]
        self.specs = specs or [
            spec(ROOT_KEY, ids, [], [field("audio"), field("frames")]),
            spec(
                "interop/transcript",
                ids,
                [dep(ROOT_KEY)],
                [field("text", "1", [{"feature": ROOT_KEY, "fields": ["audio"]}])],
            ),
            spec(
                "interop/thumbnails",
                ids,
                [dep(ROOT_KEY)],
                [field("thumbs", "2", [{"feature": ROOT_KEY, "fields": ["frames"]}])],
            ),
        ]

    def spec_of_ids(self, key):
        return ["video_id"]


def videos(ids, audio_salt=""):
    return [
        {
            "video_id": i,
            "duration": (i * 7) % 23,
            "metaxy_provenance_by_field": {"audio": f"a{i}{audio_salt}", "frames": f"f{i}"},
        }
        for i in ids
    ]


def recorder_at(root, pipeline):
    rec = Recorder(pipeline, ALGORITHM, TRUNCATION, "delta_interop", "Python Metaxy wrote this store")
    os.rmdir(rec.dir)
    rec.dir = root
    rec.store = DeltaMetadataStore(root_path=root, hash_algorithm=ALGORITHMS[ALGORITHM])
    return rec


def record(root, out):
    rec = recorder_at(root, Pipeline())
    rec.write(ROOT_KEY, videos(range(12)))
    for key in DOWNSTREAM:
        rec.resolve(key)
        rec.write_increment(key)
    rec.write(ROOT_KEY, videos(range(4), audio_salt="-v2"))
    rec.write(ROOT_KEY, videos(range(12, 15)))
    rec.delete(ROOT_KEY, "video_id = 11", soft=True)
    rec.delete(ROOT_KEY, "video_id = 10", soft=False)
    checks_from = len(rec.steps)
    for key in FEATURES:
        rec.read(key)
    for key in DOWNSTREAM:
        rec.resolve(key)
    case = dict(rec.case, steps=rec.steps)
    with open(out, "w") as f:
        json.dump({"case": case, "checks_from": checks_from}, f, indent=1)


def check(root, case_path, out):
    with open(case_path) as f:
        recorded = json.load(f)
    case = recorded["case"]
    pipeline = Pipeline(specs=case["graph"])
    rec = recorder_at(root, pipeline)
    rec.graph = build_graph(case["graph"])
    for key in FEATURES:
        rec.read(key)
    for key in DOWNSTREAM:
        rec.resolve(key)
    checks = len(rec.steps)
    for key in DOWNSTREAM:
        rec.write_increment(key)
    after = len(rec.steps)
    for key in DOWNSTREAM:
        rec.resolve(key)
    with open(out, "w") as f:
        json.dump({"checks": rec.steps[:checks], "after_python_writes": rec.steps[after:]}, f, indent=1)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "record":
        record(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
