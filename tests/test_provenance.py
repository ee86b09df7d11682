from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from asterrl.provenance import package_versions, write_run_record


def test_run_record_holds_config_seed_data_hash_and_versions(tmp_path: Path) -> None:
    path = write_run_record(tmp_path / "run", "seed: 7\n", seed=7, data_hash="ab" * 32, extra={"run_id": "x"})
    record = json.loads(path.read_text())
    assert (tmp_path / "run" / "config.yaml").read_text() == "seed: 7\n"
    assert record["seed"] == 7 and record["data_hash"] == "ab" * 32 and record["run_id"] == "x"
    assert record["packages"]["numpy"] == np.__version__


def test_absent_package_is_reported_not_raised() -> None:
    assert package_versions(("surely-not-installed-pkg",)) == {"surely-not-installed-pkg": "absent"}
