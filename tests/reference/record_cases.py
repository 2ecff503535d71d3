"""Record golden cases (format 1) from the Python reference, Metaxy 0.1.11.

Random scenarios — random graphs (identity, optional, N:1, 1:N dependencies, renames, selects,
filters, explicit / ALL / automatic field deps), int, string and composite ids, rewrites,
soft and hard deletes, data-version overrides, code-version bumps, filters and staleness
predicates, every hash algorithm — are run through Metaxy's Delta store (Polars engine), and
what it computes is written as case files that `golden` runs against every metaxy-rs backend.

    python -m venv .venv-peer && .venv-peer/bin/pip install "metaxy[delta]==0.1.11"
    .venv-peer/bin/python tests/reference/record_cases.py OUT_DIR [COUNT] [FIRST_SEED]

The committed cases in conformance/golden/recorded/ were produced this way.
"""

import json
import random
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
from metaxy.models.filter_expression import parse_filter_string  # noqa: E402
from metaxy.versioning.types import HashAlgorithm  # noqa: E402

MetaxyConfig.set(MetaxyConfig(project="golden"))

ALGORITHMS = {
    "xxhash64": HashAlgorithm.XXHASH64,
    "xxhash32": HashAlgorithm.XXHASH32,
    "wyhash": HashAlgorithm.WYHASH,
    "md5": HashAlgorithm.MD5,
    "sha256": HashAlgorithm.SHA256,
}
FIELD_NAMES = ["audio", "frames", "text", "audio/french", "meta", "embedding"]
VERSIONING = [
    "metaxy_provenance_by_field",
    "metaxy_provenance",
    "metaxy_data_version_by_field",
    "metaxy_data_version",
]


def dep(feature, **kw):
    d = {
        "feature": feature,
        "select": None,
        "rename": None,
        "fields_mapping": {"mapping": {"type": "default", "match_suffix": False, "exclude_fields": []}},
        "sql_filters": None,
        "lineage": {"relationship": {"type": "1:1"}},
        "optional": False,
    }
    d.update(kw)
    return d


def spec(key, ids, deps, fields, description=None):
    return {"key": key, "id_columns": ids, "deps": deps, "fields": fields, "metadata": {}, "description": description}


def field(key, cv="1", deps=None):
    return {"key": key, "code_version": cv, "deps": [] if deps is None else deps}


class Scenario:
    """A random graph with matching data generators."""

    def __init__(self, rng):
        self.rng = rng
        self.kind = rng.choice(["identity", "identity", "identity", "aggregation", "expansion"])
        self.id_kind = rng.choice(["int", "str", "composite"])
        if self.id_kind == "int":
            self.ids = ["sample_uid"]
        elif self.id_kind == "str":
            self.ids = ["sid"]
        else:
            self.ids = ["org", "item"]
        self.specs = []
        self.roots = []
        self.user_columns = {}
        getattr(self, "build_" + self.kind)()

    # ---- graphs -------------------------------------------------------------------------
    def random_fields(self, n_min=1, n_max=3):
        names = self.rng.sample(FIELD_NAMES, self.rng.randint(n_min, n_max))
        return names

    def field_deps(self, down_field, upstreams):
        """Field deps of a downstream field: automatic, ALL or explicit."""
        r = self.rng.random()
        if r < 0.5:
            return []
        if r < 0.7:
            return "__METAXY_ALL_DEP__"
        explicit = []
        for up_key, up_fields in upstreams:
            chosen = self.rng.sample(up_fields, self.rng.randint(1, len(up_fields)))
            explicit.append({"feature": up_key, "fields": chosen})
        return explicit

    def build_identity(self):
        n_roots = self.rng.randint(1, 2)
        for i in range(n_roots):
            key = f"r{i}/root"
            fields = self.random_fields()
            self.specs.append(spec(key, self.ids, [], [field(f, str(self.rng.randint(1, 3))) for f in fields]))
            self.roots.append((key, fields))
            self.user_columns[key] = [f"score_{i}"]
        available = [(k, f) for k, f in self.roots]
        for j in range(self.rng.randint(1, 3)):
            key = f"d{j}/feature"
            n_deps = min(len(available), self.rng.randint(1, 2))
            ups = self.rng.sample(available, n_deps)
            deps = []
            all_optional = n_deps > 1 and self.rng.random() < 0.2
            for idx, (up_key, up_fields) in enumerate(ups):
                kw = {}
                if n_deps > 1:
                    kw["select"] = []
                if all_optional or (idx > 0 and self.rng.random() < 0.4):
                    kw["optional"] = True
                if up_key in self.user_columns and self.rng.random() < 0.3:
                    col = self.user_columns[up_key][0]
                    kw["rename"] = {col: col + "_r"}
                    kw["sql_filters"] = [f"{col}_r >= {self.rng.randint(0, 40)}"]
                    if n_deps > 1:
                        kw["select"] = [col + "_r"]
                elif up_key in self.user_columns and self.rng.random() < 0.2:
                    col = self.user_columns[up_key][0]
                    kw["sql_filters"] = [f"{col} < {self.rng.randint(30, 100)}"]
                mapping_roll = self.rng.random()
                if mapping_roll < 0.15:
                    kw["fields_mapping"] = {"mapping": {"type": "all"}}
                elif mapping_roll < 0.3:
                    kw["fields_mapping"] = {"mapping": {"type": "default", "match_suffix": True, "exclude_fields": []}}
                deps.append(dep(up_key, **kw))
            names = self.random_fields(1, 2)
            fields = [field(f, str(self.rng.randint(1, 2)), self.field_deps(f, ups)) for f in names]
            self.specs.append(spec(key, self.ids, deps, fields))
            available.append((key, names))

    def build_aggregation(self):
        self.ids = ["grp", "reading"]
        self.id_kind = "agg"
        fields = self.random_fields(1, 3)
        self.specs.append(spec("agg/readings", self.ids, [], [field(f) for f in fields]))
        self.roots.append(("agg/readings", fields))
        self.user_columns["agg/readings"] = ["score_0"]
        down = self.random_fields(1, 2)
        deps = [dep("agg/readings", lineage={"relationship": {"type": "N:1", "on": ["grp"]}})]
        self.specs.append(
            spec("agg/summary", ["grp"], deps, [field(f, "1", self.field_deps(f, self.roots)) for f in down])
        )

    def build_expansion(self):
        self.ids = ["vid"]
        self.id_kind = "exp"
        fields = self.random_fields(1, 2)
        self.specs.append(spec("exp/video", ["vid"], [], [field(f) for f in fields]))
        self.roots.append(("exp/video", fields))
        self.user_columns["exp/video"] = ["score_0"]
        deps = [dep("exp/video", lineage={"relationship": {"type": "1:N", "on": ["vid"], "id_generation_pattern": None}})]
        down = self.random_fields(1, 2)
        self.specs.append(
            spec("exp/frames", ["vid", "frame"], deps, [field(f, "1", self.field_deps(f, self.roots)) for f in down])
        )

    # ---- data ---------------------------------------------------------------------------
    def id_values(self, i):
        if self.id_kind == "int":
            return {"sample_uid": i}
        if self.id_kind == "str":
            return {"sid": f"s{i:03d}"}
        if self.id_kind == "composite":
            return {"org": ["acme", "zeta"][i % 2], "item": i}
        if self.id_kind == "agg":
            return {"grp": f"g{i % 3}", "reading": i}
        return {"vid": f"v{i}"}

    def id_filter(self, ids):
        if self.id_kind in ("int",):
            return f"sample_uid IN ({', '.join(str(i) for i in ids)})"
        if self.id_kind == "str":
            return f"sid IN ({', '.join(repr(f's{i:03d}') for i in ids)})"
        if self.id_kind == "composite":
            return " OR ".join(f"item = {i}" for i in ids)
        if self.id_kind == "agg":
            return f"reading IN ({', '.join(str(i) for i in ids)})"
        return f"vid IN ({', '.join(repr(f'v{i}') for i in ids)})"

    def root_row(self, key, fields, i, salt, override=False):
        row = dict(self.id_values(i))
        for col in self.user_columns.get(key, []):
            row[col] = (i * 7 + len(salt)) % 50
        prov = {f.replace("/", "_"): f"{f[0]}{i}{salt}" for f in fields}
        row["metaxy_provenance_by_field"] = prov
        if override:
            row["metaxy_data_version_by_field"] = {k: "dv_" + v.rstrip("x") for k, v in prov.items()}
        return row


def class_name(key):
    return "F_" + key.replace("/", "_").replace("-", "_")


def build_graph(specs):
    g = mx.FeatureGraph()
    with g.use():
        for s in specs:
            fs = mx.FeatureSpec.model_validate(s)
            types.new_class(class_name(s["key"]), (mx.BaseFeature,), {"spec": fs})
    return g


def dumped(g, specs):
    out = []
    with g.use():
        for s in specs:
            out.append(g.get_feature_definition(s["key"]).spec.model_dump(mode="json"))
    return out


def versions(g, specs):
    with g.use():
        return {
            s["key"]: {
                "feature_version": g.get_feature_version(s["key"]),
                "fields": dict(g.get_feature_version_by_field(s["key"])),
            }
            for s in specs
        }


def to_rows(df, cols):
    keep = [c for c in cols if c in df.columns]
    return df.select(keep).to_dicts()


class Recorder:
    def __init__(self, sc, algorithm, truncation, name, description):
        MetaxyConfig.set(MetaxyConfig(project="golden", hash_truncation_length=truncation))
        self.sc = sc
        self.algorithm = algorithm
        self.truncation = truncation
        self.graph = build_graph(sc.specs)
        self.dir = tempfile.mkdtemp(prefix="mxgolden_")
        self.store = DeltaMetadataStore(root_path=self.dir, hash_algorithm=ALGORITHMS[algorithm])
        self.steps = []
        self.last = {}
        self.case = {
            "format": 1,
            "name": name,
            "description": description,
            "config": {"hash_algorithm": algorithm, "hash_truncation_length": truncation},
            "graph": dumped(self.graph, sc.specs),
            "versions": versions(self.graph, sc.specs),
        }

    def spec_of(self, key):
        return next(s for s in self.sc.specs if s["key"] == key)

    def write(self, key, rows):
        with self.graph.use(), self.store.open("w") as s:
            s.write(key, pl.DataFrame(rows))
        self.steps.append({"op": "write", "feature": key, "rows": rows})

    def result_columns(self, key):
        spec = self.spec_of(key)
        cols = list(spec["id_columns"])
        for d in spec["deps"]:
            rel = d["lineage"]["relationship"]
            if rel["type"] == "1:N":
                cols = list(rel["on"])
        return cols

    def resolve(self, key, filters=None, global_filters=None, stale_if=None):
        kw = {}
        step = {"op": "resolve", "feature": key}
        if filters:
            kw["filters"] = {k: [parse_filter_string(f) for f in v] for k, v in filters.items()}
            step["filters"] = filters
        if global_filters:
            kw["global_filters"] = [parse_filter_string(f) for f in global_filters]
            step["global_filters"] = global_filters
        if stale_if:
            kw["staleness_predicates"] = [parse_filter_string(f) for f in stale_if]
            step["stale_if"] = stale_if
        with self.graph.use(), self.store.open("w") as s:
            inc = s.resolve_update(key, **kw)
            new, stale, orphaned = inc.new.to_polars(), inc.stale.to_polars(), inc.orphaned.to_polars()
        ids = self.result_columns(key)
        step["expect"] = {
            "new": to_rows(new, ids + VERSIONING),
            "stale": to_rows(stale, ids + VERSIONING),
            "orphaned": to_rows(orphaned, ids),
        }
        self.steps.append(step)
        self.last[key] = (new, stale)

    def write_increment(self, key, expand=None):
        new, stale = self.last[key]
        both = pl.concat([new, stale], how="diagonal_relaxed")
        spec = self.spec_of(key)
        step = {"op": "write_increment", "feature": key}
        if expand:
            parents = both.unique(subset=self.result_columns(key), keep="first", maintain_order=True)
            both = parents.join(pl.DataFrame({expand["column"]: list(range(expand["count"]))}), how="cross")
            step["expand"] = expand
        both = both.unique(subset=spec["id_columns"], keep="first", maintain_order=True)
        # Metaxy leaks join-suffixed lifecycle columns into increments; do not write them
        both = both.drop([c for c in both.columns if c.endswith("_right") or c == "metaxy_deleted_at"])
        with self.graph.use(), self.store.open("w") as s:
            s.write(key, both)
        step["expect_rows_written"] = both.height
        self.steps.append(step)

    def delete(self, key, sql, soft):
        with self.graph.use(), self.store.open("w") as s:
            s.delete(key, parse_filter_string(sql), soft=soft)
        self.steps.append({"op": "delete", "feature": key, "filter": sql, "soft": soft})

    def read(self, key):
        with self.graph.use(), self.store.open("r") as s:
            df = s.read(key).collect().to_polars()
        self.steps.append({"op": "read", "feature": key, "expect": to_rows(df, self.sc.spec_of_ids(key) + VERSIONING)})

    def set_graph(self, specs):
        self.sc.specs = specs
        self.graph = build_graph(specs)
        self.steps.append({"op": "set_graph", "graph": dumped(self.graph, specs), "versions": versions(self.graph, specs)})

    def finish(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        self.case["steps"] = self.steps
        return self.case


def downstream_keys(sc):
    return [s["key"] for s in sc.specs if s["deps"]]


def materialize(rec, sc):
    for key in downstream_keys(sc):
        rec.resolve(key)
        expand = {"column": "frame", "count": 3} if sc.kind == "expansion" else None
        rec.write_increment(key, expand)


def record(seed):
    rng = random.Random(seed)
    sc = Scenario(rng)
    sc.spec_of_ids = lambda key: next(s for s in sc.specs if s["key"] == key)["id_columns"]
    algorithm = rng.choice(list(ALGORITHMS))
    truncation = rng.choice([8, 8, 12, 16] + ([32, 64] if algorithm in ("md5", "sha256") else []))
    if algorithm == "md5" and truncation == 64:
        truncation = 32
    name = f"recorded_{seed:04d}_{sc.kind}_{sc.id_kind}_{algorithm}"
    rec = Recorder(sc, algorithm, truncation, name, f"Random {sc.kind} scenario (seed {seed}), recorded from Metaxy 0.1.11.")
    n = rng.randint(4, 8)
    for key, fields in sc.roots:
        rec.write(key, [sc.root_row(key, fields, i, "", override=rng.random() < 0.2) for i in range(n)])
    materialize(rec, sc)
    for rnd in range(2):
        action = rng.choice(["rewrite", "rewrite", "delete", "bump", "add", "override"])
        key, fields = rng.choice(sc.roots)
        if action in ("rewrite", "override"):
            changed = rng.sample(range(n), rng.randint(1, max(1, n // 2)))
            rows = []
            for i in changed:
                r = sc.root_row(key, fields, i, "", override=action == "override")
                f = rng.choice(list(r["metaxy_provenance_by_field"]))
                r["metaxy_provenance_by_field"][f] += f"x{rnd}"
                rows.append(r)
            rec.write(key, rows)
        elif action == "add":
            rec.write(key, [sc.root_row(key, fields, i, "") for i in range(n, n + 2)])
            n += 2
        elif action == "delete":
            victims = rng.sample(range(n), rng.randint(1, 2))
            rec.delete(key, sc.id_filter(victims), soft=rng.random() < 0.7)
        else:
            specs = json.loads(json.dumps(sc.specs))
            target = rng.choice(specs)
            fld = rng.choice(target["fields"])
            fld["code_version"] = str(int(fld["code_version"]) + 1) if fld["code_version"].isdigit() else "2"
            rec.set_graph(specs)
        for key2 in downstream_keys(sc):
            extra = {}
            roll = rng.random()
            if roll < 0.15:
                # predicates on the target's own ids (upstream columns in a stored N:1 row
                # depend on which row of the group was written, which is unspecified)
                if sc.kind == "aggregation":
                    extra["stale_if"] = [f"grp = 'g{rng.randrange(3)}'"]
                else:
                    extra["stale_if"] = [sc.id_filter([rng.randrange(n)])]
            elif roll < 0.25 and sc.id_kind in ("int", "str"):
                extra["global_filters"] = [sc.id_filter(list(range(0, n, 2)))]
            rec.resolve(key2, **extra)
            expand = {"column": "frame", "count": 2} if sc.kind == "expansion" else None
            rec.write_increment(key2, expand)
        rec.read(rng.choice([s["key"] for s in sc.specs]))
    return rec.finish()


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    import os

    os.makedirs(out, exist_ok=True)
    for seed in range(first, first + count):
        try:
            case = record(seed)
        except Exception as e:  # a scenario the reference itself rejects: skip it, say so
            print(f"seed {seed}: reference failed ({type(e).__name__}: {e}); skipped", file=sys.stderr)
            continue
        path = os.path.join(out, case["name"] + ".json")
        with open(path, "w") as fh:
            json.dump(case, fh, indent=1)
        print(path)


if __name__ == "__main__":
    main()
