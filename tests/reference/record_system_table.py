"""Record a `metaxy_system__feature_versions` table pushed by Python Metaxy 0.1.11.

Pushes a graph (identity, optional, N:1 and 1:N dependencies, renames, selects, filters,
explicit and ALL field deps, metadata, descriptions) twice — the second time with a bumped
code version — into a Delta store, then writes the system table's rows and the versions
Python computed as JSON. The metaxy-rs test `python_pushed_graphs_load` rebuilds the graphs
from these rows and checks every feature and field version.

    .venv-peer/bin/python tests/reference/record_system_table.py conformance/fixtures/python_feature_versions.json
"""

import json
import shutil
import sys
import tempfile
import types
import warnings

warnings.filterwarnings("ignore")

import polars as pl  # noqa: E402
import metaxy as mx  # noqa: E402
from metaxy.config import MetaxyConfig  # noqa: E402
from metaxy.ext.polars.handlers.delta import DeltaMetadataStore  # noqa: E402

MetaxyConfig.set(MetaxyConfig(project="pyproj"))


def specs(audio_cv):
    return [
        {"key": "video/raw", "id_columns": ["video_id"], "description": "Raw videos",
         "metadata": {"owner": "media", "sla_hours": 24, "ratio": 0.5},
         "fields": [{"key": "audio", "code_version": audio_cv}, {"key": "frames", "code_version": "1"},
                    {"key": "audio/french", "code_version": "1"}]},
        {"key": "video/crop", "id_columns": ["video_id"], "deps": [{"feature": "video/raw"}],
         "fields": [{"key": "audio", "code_version": "1"}, {"key": "frames", "code_version": "2"}]},
        {"key": "video/faces", "id_columns": ["video_id"],
         "deps": [{"feature": "video/crop", "select": ["path2"], "rename": {"path": "path2"},
                   "filters": ["path2 IS NOT NULL"]}],
         "fields": [{"key": "faces", "code_version": "1", "deps": [{"feature": "video/crop", "fields": ["frames"]}]}]},
        {"key": "video/stt", "id_columns": ["video_id"],
         "deps": [{"feature": "video/raw"}, {"feature": "video/faces", "optional": True}],
         "fields": [{"key": "text", "code_version": "1", "deps": "__METAXY_ALL_DEP__"},
                    {"key": "french", "code_version": "1"}]},
        {"key": "video/chunks", "id_columns": ["video_id", "chunk"],
         "deps": [{"feature": "video/raw", "lineage": {"relationship": {"type": "1:N", "on": ["video_id"]}},
                   "fields_mapping": {"mapping": {"type": "default", "match_suffix": True, "exclude_fields": ["frames"]}}}],
         "fields": [{"key": "french", "code_version": "1"}]},
        {"key": "video/summary", "id_columns": ["owner"],
         "deps": [{"feature": "video/raw", "lineage": {"relationship": {"type": "N:1", "on": ["owner"]}},
                   "fields_mapping": {"mapping": {"type": "all"}}}],
         "fields": [{"key": "stats", "code_version": "3"}]},
    ]


def build(spec_list):
    g = mx.FeatureGraph()
    with g.use():
        for s in spec_list:
            fs = mx.FeatureSpec.model_validate(s)
            types.new_class("F_" + s["key"].replace("/", "_"), (mx.BaseFeature,), {"spec": fs})
    return g


def main():
    out = sys.argv[1]
    d = tempfile.mkdtemp(prefix="mxsys_")
    expected = []
    try:
        for cv in ("1", "2"):
            g = build(specs(cv))
            with g.use():
                store = DeltaMetadataStore(root_path=d)
                with store.open("w") as s:
                    res = mx.SystemTableStorage(s).push_graph_snapshot()
                expected.append({
                    "project_version": res.project_version,
                    "versions": {k: {"feature_version": g.get_feature_version(k),
                                     "fields": dict(g.get_feature_version_by_field(k))}
                                 for k in [s["key"] for s in specs(cv)]},
                })
        table = pl.read_delta(f"{d}/metaxy-system/feature_versions.delta")
        rows = table.with_columns(
            pl.col("recorded_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f"),
            pl.col("deleted_at").cast(pl.Utf8),
        ).sort("recorded_at").to_dicts()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    with open(out, "w") as fh:
        json.dump({"project": rows[0]["project"], "pushes": expected, "rows": rows}, fh, indent=1)
    print(out, len(rows), "rows")


if __name__ == "__main__":
    main()
