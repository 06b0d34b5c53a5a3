import importlib.util
import sys

from .conftest import REPO

STUBS = REPO / "clients/python/samestory_client/_proto"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_stubs", REPO / "clients/python/scripts/generate_stubs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_match_the_proto(tmp_path):
    generator = _generator()
    written = generator.generate(tmp_path)
    assert {p.name for p in written} == set(generator.GENERATED)
    for path in written:
        committed = STUBS / path.name
        assert committed.read_text() == path.read_text(), (
            f"{committed} is stale: run `make stubs` (clients/python/scripts/generate_stubs.py)"
        )


def test_client_package_imports_nothing_but_grpc_and_protobuf():
    allowed = {"grpc", "google", "samestory_client", "__future__"}
    stdlib = set(sys.stdlib_module_names)
    for source in (REPO / "clients/python/samestory_client").rglob("*.py"):
        for line in source.read_text().splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from") and not words[1].startswith("."):
                top = words[1].split(".")[0]
                assert top in allowed | stdlib, f"{source.name} imports {words[1]}"
