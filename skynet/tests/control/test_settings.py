"""The settings' ``control:`` section: operators tune control from the configuration file."""

from __future__ import annotations

import pytest

from skynet.config import ControlConfig, load_settings
from skynet.errors import ConfigError


def test_the_control_section_comes_from_the_file_and_the_environment(tmp_path):
    path = tmp_path / "skynet.yml"
    path.write_text("control:\n  energy_weight: 0.1\n  comfort_band: [20, 27]\n  modes: [cool, heat]\n")
    s = load_settings(path, environ={"SKYNET_CONTROL_MAX_COMMANDS_PER_HOUR": "4",
                                     "SKYNET_CONTROL_EMPTY_BAND": "15, 33.5"})  # fmt: skip
    assert s.control.energy_weight == 0.1 and s.control.comfort_band == (20.0, 27.0)
    assert s.control.modes == ("cool", "heat") and s.control.max_commands_per_hour == 4
    assert s.control.empty_band == (15.0, 33.5)
    assert s.control.switch_penalty == ControlConfig().switch_penalty  # the rest keep their defaults
    assert load_settings(None, environ={}).control == ControlConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("control:\n  modes: [cool, turbo]\n", "control.modes: control: unknown mode 'turbo'"),
        ("control:\n  comfort_band: [21]\n", "control.comfort_band: expected 2 values"),
        ("control:\n  comfort_band: [27, 21]\n", "comfort_band 27-21 is upside down"),
        ("control:\n  energy_weight: lots\n", "control.energy_weight: expected float"),
        ("control:\n  energy_wieght: 1\n", "unknown key control.energy_wieght"),
        ("control:\n  fans: silent\n", "unknown fan 'silent'"),
    ],
)
def test_a_bad_control_setting_is_one_line_naming_it(tmp_path, text, message):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_the_worker_and_decide_use_the_settings_control_section(tmp_path):
    from skynet.api.config import effective_config
    from skynet.api.serving import ServedModels
    from skynet.api.worker import _models

    s = load_settings(
        None, environ={"SKYNET_GENERAL_DATA_DIR": str(tmp_path), "SKYNET_CONTROL_NIGHT_OFFSET": "-0.2"}
    )
    watch = _models(s)  # the worker's models, watched in the registry
    try:
        assert watch.controller.config.night_offset == -0.2
    finally:
        watch.close()
    assert ServedModels(s).controller().config.night_offset == -0.2  # the REST service's decisions
    assert effective_config(s)["control"]["night_offset"] == -0.2
    assert ControlConfig.from_dict({"comfort_band": [22, 25]}).comfort_band == (22.0, 25.0)
    with pytest.raises(ConfigError, match="unknown setting 'nope'"):
        ControlConfig.from_dict({"nope": 1})
