import re
from pathlib import Path

import pytest
from samestory.config import CALIBRATED, Settings
from samestory.errors import ConfigurationError
from samestory.semantic import BACKENDS


def test_defaults_env_then_flags():
    env = {"SAMESTORY_PORT": "6000", "SAMESTORY_DATA_DIR": "/srv/x", "SAMESTORY_THREADS": "1"}
    settings = Settings.load(env=env, port=7000)
    assert settings.port == 7000 and settings.data_dir == Path("/srv/x") and settings.threads == 1
    assert Settings.load(env={}).port == 50051
    assert Settings.load(env={"SAMESTORY_MAX_TOKENS": "128"}).max_tokens == 128
    assert Settings.load(env={}).max_tokens == 256
    assert Settings.load(env={}).model_calls == 2
    assert Settings.load(env={"SAMESTORY_MODEL_CALLS": "1"}).model_calls == 1
    assert Settings.load(env={}).idle_model_calls == 1
    assert Settings.load(env={"SAMESTORY_IDLE_MODEL_CALLS": "0"}).idle_model_calls == 0


def test_bad_values_say_which_variable():
    with pytest.raises(ConfigurationError, match="SAMESTORY_PORT='http'"):
        Settings.load(env={"SAMESTORY_PORT": "http"})
    with pytest.raises(ConfigurationError, match="TCP port"):
        Settings.load(env={}, port=70000)
    with pytest.raises(ConfigurationError, match="max_message_bytes"):
        Settings.load(env={}, max_article_chars=5_000_000, max_message_bytes=1_000_000)
    with pytest.raises(ConfigurationError, match="SAMESTORY_MAX_TOKENS='all'"):
        Settings.load(env={"SAMESTORY_MAX_TOKENS": "all"})
    with pytest.raises(ConfigurationError, match="max_tokens"):
        Settings.load(env={"SAMESTORY_MAX_TOKENS": "0"})
    with pytest.raises(ConfigurationError, match="model_calls must be at least 1"):
        Settings.load(env={"SAMESTORY_MODEL_CALLS": "0"})
    with pytest.raises(ConfigurationError, match="idle_model_calls must not be negative"):
        Settings.load(env={"SAMESTORY_IDLE_MODEL_CALLS": "-1"})
    for bad in ("0", "-1", "nan", "5000"):
        with pytest.raises(ConfigurationError, match="switch_interval_ms must be above 0"):
            Settings.load(env={"SAMESTORY_SWITCH_INTERVAL_MS": bad})


def test_the_decision_settings_start_calibrated_and_can_be_set_one_by_one():
    calibrated = CALIBRATED["torch-fp32"]
    assert Settings.load(env={}).thresholds == calibrated
    env = {"SAMESTORY_DECIDE_WINDOW_DAYS": "7", "SAMESTORY_DECIDE_SAME_EVENT": "0.5", "SAMESTORY_DECIDE_MERGE": ""}
    settings = Settings.load(env=env, decide={"same_event": "0.6", "intercept": "-5"})
    th = settings.thresholds
    assert (th.window_days, th.same_event, th.intercept) == (7.0, 0.6, -5.0)  # the flag wins over the variable
    assert th.merge == calibrated.merge and th.fresh_bonus == calibrated.fresh_bonus
    assert Settings.load(env={}, decide={"settled_size": "6"}).thresholds.settled_size == 6


@pytest.mark.parametrize(
    ("env", "decide", "message"),
    [
        ({"SAMESTORY_DECIDE_WINDOW": "7"}, None, "SAMESTORY_DECIDE_WINDOW: the decision has no setting 'window'; it"),
        ({}, {"same_event": "high"}, "--decide same_event='high' is not a valid float"),
        ({}, {"settled_size": "2.5"}, "is not a valid int"),
        ({"SAMESTORY_DECIDE_FRESH_DAYS": "-1"}, None, "fresh_days must be a finite number of at least 0"),
        ({}, {"merge": "nan"}, "merge must be a finite number"),
        ({}, {"window_days": "0"}, "window_days must be above 0"),
    ],
)
def test_bad_decision_settings_say_which_and_why(env, decide, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Settings.load(env=env, decide=decide)


def test_a_server_sets_its_process_switch_interval(embedder, tmp_path):
    """The model's calls wait for the interpreter's lock when done (config.Settings.switch_interval_ms)."""
    import sys

    from samestory.server import BackgroundServer

    before = sys.getswitchinterval()
    try:
        settings = Settings.load(env={"SAMESTORY_SWITCH_INTERVAL_MS": "2"}, data_dir=tmp_path, port=0)
        with BackgroundServer(settings, embedder):
            assert sys.getswitchinterval() == pytest.approx(0.002)
        assert Settings.load(env={}).switch_interval_ms == 0.5
    finally:
        sys.setswitchinterval(before)


def test_an_onnx_server_runs_one_of_its_two_model_calls_at_idle_priority(int8, tmp_path):
    """The requests' own work never takes turns on a core with a model call (config.Settings.idle_model_calls)."""
    import os
    import threading

    from samestory.server import BackgroundServer

    settings = Settings.load(env={}, data_dir=tmp_path, port=0, backend="onnx-int8")
    with BackgroundServer(settings, int8):
        workers = {t.name: t.native_id for t in threading.enumerate() if t.name.startswith("samestory-embedder-")}
        assert {name: os.sched_getscheduler(tid) for name, tid in workers.items()} == {
            "samestory-embedder-0": os.SCHED_OTHER,
            "samestory-embedder-1": os.SCHED_IDLE,
        }

    assert set(CALIBRATED) == set(BACKENDS)
    for backend in BACKENDS:
        assert Settings.load(env={"SAMESTORY_BACKEND": backend}).thresholds == CALIBRATED[backend]
    with pytest.raises(ConfigurationError, match="unknown backend 'onnx'"):
        Settings.load(env={"SAMESTORY_BACKEND": "onnx"})


def test_shared_backends_and_index_settings_are_checked():
    pg, rd = "postgresql://u@db/samestory", "redis://cache:6379/0"
    settings = Settings.load(env={"SAMESTORY_STORE": pg, "SAMESTORY_LSH": rd, "SAMESTORY_IVF_FROM": "0"})
    assert (settings.store, settings.lsh, settings.lsh_basename, settings.ivf_from) == (pg, rd, "samestory", 0)
    with pytest.raises(ConfigurationError, match="not a postgresql:// URL"):
        Settings.load(env={"SAMESTORY_STORE": "mysql://db"})
    with pytest.raises(ConfigurationError, match="needs their shared store"):
        Settings.load(env={"SAMESTORY_LSH": rd})
    with pytest.raises(ConfigurationError, match="not a redis:// URL"):
        Settings.load(env={"SAMESTORY_STORE": pg, "SAMESTORY_LSH": "memcached://x"})
    with pytest.raises(ConfigurationError, match="39 x ivf_lists"):
        Settings.load(env={"SAMESTORY_IVF_FROM": "1000"})
    with pytest.raises(ConfigurationError, match="cannot exceed ivf_lists"):
        Settings.load(env={"SAMESTORY_IVF_PROBE": "2000"})
    with pytest.raises(ConfigurationError, match="must not be negative"):
        Settings.load(env={"SAMESTORY_INDEX_WINDOW_DAYS": "-1"})
