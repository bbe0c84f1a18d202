"""The train-worker service as the deployment renders it (systemd and supervisord), from the
repository's inventory: its command, warm shutdown and health check."""

from __future__ import annotations

from skynet.deploy import Layout, LocalHost, SupervisorManager, SystemdManager, load_inventory
from skynet.tests.deploy.conftest import REPO


def test_the_train_worker_service_renders_with_a_warm_shutdown():
    inventory = load_inventory(REPO / "inventory.yml", environ={})
    service = inventory.services["train"]["train-worker"]
    assert service.command == "train worker --hostname train-worker@%h"
    assert service.health.startswith("train health --hostname train-worker@%h")
    layout = Layout("/opt/ai")
    unit = SystemdManager(LocalHost(), layout, REPO / "install", "skynet", "skynet").unit_text(service)
    # systemd would expand %h itself (the home directory): the unit carries %%h
    assert 'current/config.yml train worker --hostname "train-worker@%%h"' in unit
    assert "KillMode=mixed" in unit and "TimeoutStopSec=300" in unit and "User=skynet" in unit
    program = SupervisorManager(LocalHost(), layout, REPO / "install", "skynet", "skynet").program_text(
        service
    )
    assert "[program:skynet-train-worker]" in program and "train-worker@%%h" in program
    assert "stopwaitsecs=300" in program and "killasgroup=true" in program
    assert "user_model_search" not in inventory.dags["train"]  # the nightly search ships commented out
