import sys
from pathlib import Path

# tests import their shared helpers (tests/roundtrip.py) and answer banks (tests/answers/) by name
sys.path.insert(0, str(Path(__file__).parent))
