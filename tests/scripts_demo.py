"""Import shim: ``scripts/demo.py`` as a module for the tests."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("demo_script", Path(__file__).resolve().parents[1] / "scripts" / "demo.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
main = _module.main
#: The script module itself, for tests that replace its detector.
module = _module
