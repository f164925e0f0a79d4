import sys
from pathlib import Path

# tests import their shared helpers (noise.py, local_servers.py, grader_fixtures/) by name
sys.path.insert(0, str(Path(__file__).parent))
