"""Shared fixtures: an offline SkyPilot home, and a recognisable fake W&B key to hunt for in written files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("METTAGRID_LOG_LEVEL", "WARNING")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("SKYPILOT_DISABLE_USAGE_COLLECTION", "1")

FIXTURES = Path(__file__).parent / "fixtures"

# Looks like a real key (prefix, 40+ characters) so a leak is unmistakable in any file.
FAKE_WANDB_KEY = "wandb_v1_FAKEKEY_archbench_1234567890abcdef1234567890abcdef"


@pytest.fixture(scope="session")
def sky_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """HOME for SkyPilot holding a small accelerator catalog (and AWS prices), so nothing is downloaded.

    SkyPilot computes its catalog folder from HOME when `sky` is first imported, so HOME is set before the
    import; if another test imported sky earlier, the cached folder is pointed here as well.
    """
    home = tmp_path_factory.mktemp("sky-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("HOME", str(home))
    patch.setenv("SKYPILOT_DISABLE_USAGE_COLLECTION", "1")
    patch.delenv("SKY_RUNTIME_DIR", raising=False)
    import sky.catalog.common as catalog_common
    from sky.skylet import constants

    catalog_dir = home / ".sky" / "catalogs" / constants.CATALOG_SCHEMA_VERSION
    (catalog_dir / "common").mkdir(parents=True)
    shutil.copy(FIXTURES / "accelerators.csv", catalog_dir / "common" / "accelerators.csv")
    (catalog_dir / "aws").mkdir()  # prices (a few real AWS rows): fresh, so SkyPilot does not try to refresh them
    shutil.copy(FIXTURES / "catalog" / "aws" / "vms.csv", catalog_dir / "aws" / "vms.csv")
    if Path(catalog_common._ABSOLUTE_VERSIONED_CATALOG_DIR) != catalog_dir:  # sky was imported earlier
        from sky.utils import accelerator_registry

        patch.setattr(catalog_common, "_ABSOLUTE_VERSIONED_CATALOG_DIR", str(catalog_dir))
        fixture_df = catalog_common.read_catalog("common/accelerators.csv")  # bound to the patched folder
        patch.setattr(accelerator_registry, "_accelerator_df", fixture_df)
    try:
        yield home
    finally:
        patch.undo()


@pytest.fixture()
def fake_wandb_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WANDB_API_KEY", FAKE_WANDB_KEY)
    return FAKE_WANDB_KEY


@pytest.fixture()
def use_cloud(monkeypatch: pytest.MonkeyPatch, sky_home: Path):
    """Make the controller's SkyBackend talk to a given fake client; fast polls and launches."""
    import benchmark.orchestration.backends.sky as sky_backend

    monkeypatch.setattr(sky_backend.SkyBackend, "poll_interval", 0.01)
    monkeypatch.setattr(sky_backend.SkyBackend, "submit_rate", 1000.0)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)

    def use(client) -> None:  # a sky_helpers.ReplaySkyClient
        monkeypatch.setattr(sky_backend, "SkyClient", lambda: client)

    return use
