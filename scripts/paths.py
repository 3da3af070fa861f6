"""Where things live in a checkout; one place so scripts and tests agree."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
LOG_DIR = VAR / "log"
MODEL_DIR = VAR / "models"
RESULTS_DIR = VAR / "results"
RASA_VENV = ROOT / ".venv" / "rasa"
APP_VENV = ROOT / ".venv" / "app"
RASA_BIN = RASA_VENV / "bin" / "rasa"
RASA_PYTHON = RASA_VENV / "bin" / "python"
APP_PYTHON = APP_VENV / "bin" / "python"

# Inputs of the Rasa model: a change to any of them means a new model.
MODEL_INPUTS = ("config.yml", "domain.yml", "assistant")
