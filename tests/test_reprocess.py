"""``reprocess`` (workflows/reprocess.py), the cron entry: only what is stale, under the lock."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from geopurify.pipeline.errors import ConfigError, StoreError
from geopurify.pipeline.lock import store_lock
from geopurify.pipeline.store import Store
from geopurify.workflows.reprocess import reprocess

from workflow_fixtures import small_config, write_scenes


@pytest.fixture
def cfg(tmp_path):
    write_scenes(tmp_path / "data")
    return small_config(tmp_path, tmp_path / "data")


@pytest.mark.slow
def test_reprocess_computes_what_is_new_then_nothing(cfg, tmp_path):
    first = reprocess(cfg, report_dir=tmp_path / "report")
    assert not first.result.failed and len(first.computed) > 0
    assert first.report == tmp_path / "report" / "report.md" and first.report.is_file()
    assert "steps computed (" in first.summary() and "; report " in first.summary()
    again = reprocess(cfg, report_dir=tmp_path / "report2")
    assert again.computed == [] and again.report is None
    assert "0 steps computed (nothing stale), 0 failed" in again.summary()
    assert not (tmp_path / "report2").exists()


def test_reprocess_waits_for_the_lock_then_names_the_holder(cfg):
    Store(cfg.store)
    with store_lock(cfg.store):
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"locked by pid \d+"):
            reprocess(cfg, wait=1.0)
        assert time.monotonic() - started >= 1.0


def test_reprocess_refuses_a_bad_config_before_touching_the_store(cfg):
    bad = dataclasses.replace(cfg, purify=dataclasses.replace(cfg.purify, k=0))
    with pytest.raises(ConfigError, match=r"purify\.k"):
        reprocess(bad)
    assert not Path(cfg.store).exists()
