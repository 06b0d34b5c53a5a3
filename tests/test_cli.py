"""Both command lines, run as a user would: as processes against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from samestory.cli import build_parser as server_parser
from samestory_client.cli import build_parser as client_parser

from .conftest import SEEDS

BIN = Path(sys.executable).parent


def _subcommands(parser):
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices, {c.dest: c.help for c in action._choices_actions}


@pytest.mark.parametrize("parser", [server_parser(), client_parser()], ids=["samestory", "samestory-client"])
def test_every_command_has_help(parser):
    choices, helps = _subcommands(parser)
    for name in choices:
        assert helps.get(name), f"{parser.prog} {name} has no help text"


def client(target, *args, check=True):
    result = subprocess.run(
        [str(BIN / "samestory-client"), "--target", target, *args], capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_client_command_line(server, tmp_path):
    target = server.target
    lines = tmp_path / "batch.jsonl"
    lines.write_text(
        json.dumps(
            {
                "id": "j1",
                "title": "Quake",
                "text": "A strong earthquake shook the coast of Aceh on Tuesday.",
                "date": "2013-07-02",
            }
        )
        + "\n"
        + json.dumps({"id": "j2", "text": ""})
        + "\n"
    )
    ingest = client(target, "ingest", str(SEEDS), str(lines), check=False)
    assert ingest.returncode == 1  # one bad line
    assert "j2: INVALID_ARGUMENT: article.text is empty" in ingest.stderr
    rows = [line.split("\t") for line in ingest.stdout.splitlines()]
    assert [r[0] for r in rows] == [p.stem for p in sorted(SEEDS.glob("*.txt"))] + ["j1"]
    cluster_id = rows[0][2]

    shown = client(target, "cluster", cluster_id).stdout
    assert f"cluster {cluster_id}: 3 articles" in shown and "003_12da6fbd2a6afa8c  SAME_EVENT  2024-10-30" in shown
    paged = client(target, "cluster", cluster_id, "--page-size", "2").stdout
    assert "listed: the first 2" in paged and "003_12da6fbd2a6afa8c  SAME_EVENT" not in paged
    every = client(target, "cluster", cluster_id, "--page-size", "2", "--all").stdout
    assert "listed" not in every and "003_12da6fbd2a6afa8c  SAME_EVENT" in every

    check = client(target, "check", str(SEEDS / "000_37e6b592380adfa8.txt"), "--id", "probe").stdout
    assert "probe: EXACT_DUPLICATE" in check and "this article [" in check

    as_json = json.loads(client(target, "--json", "article", "j1").stdout)
    assert as_json["article"]["title"] == "Quake" and as_json["verdict"] == "NEW_STORY"

    assert "deleted j1" in client(target, "delete", "j1").stdout
    missing = client(target, "article", "j1", check=False)
    assert missing.returncode == 2 and "NOT_FOUND" in missing.stderr
    assert client(target, "health").stdout.strip() == "SERVING"
    assert "articles 3" in client(target, "stats").stdout


def test_client_reports_an_unreachable_server():
    result = subprocess.run(
        [str(BIN / "samestory-client"), "--target", "127.0.0.1:1", "--timeout", "2", "stats"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "UNAVAILABLE" in result.stderr


@pytest.mark.slow
def test_demo_shows_the_seeds_in_one_cluster_with_aligned_quotes():
    result = subprocess.run([str(BIN / "samestory"), "demo"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "000_37e6b592380adfa8: NEW_STORY" in out
    assert "002_4e24442fa892cfb7: SAME_EVENT" in out and "003_12da6fbd2a6afa8c: SAME_EVENT" in out
    assert "articles" in out.splitlines()[-4] or ": 3 articles" in out
    assert "internationalised and goes beyond the borders of" in out
    assert "│" in out  # side by side


def test_serve_refuses_a_bad_model_path(tmp_path):
    result = subprocess.run(
        [
            str(BIN / "samestory"),
            "--model-path",
            str(tmp_path),
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "not a sentence-transformers model folder" in result.stderr


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("window_days", "--decide 'window_days' is not NAME=VALUE"),
        ("window=7", "the decision has no setting 'window'"),
        ("window_days=-3", "window_days must be a finite number of at least 0"),
    ],
)
def test_serve_refuses_a_bad_decision_setting_before_loading_anything(tmp_path, flag, message):
    data = tmp_path / "d"
    result = subprocess.run(
        [str(BIN / "samestory"), "--decide", flag, "serve", "--data-dir", str(data), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not data.exists()
