"""The wheel carries the default model and the face model: they load from an installed copy
without any path or download."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_an_installed_wheel_finds_the_shipped_model_and_codebooks(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(wheels)],
        check=True, capture_output=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    wheel = next(wheels.glob("streamer-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    probe = (
        "import streamer.runtime.model_bundle as b; m = b.load_affect_model(); "
        "print(b.SHIPPED_MODELS_DIR); print(','.join(m.dimensions)); print(sorted(m.codebooks)); "
        "import streamer.features.face.model as f; print(f.resolve_face_model(url='http://127.0.0.1:9/'))"
    )
    env = {**os.environ, "PYTHONPATH": str(target), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("STREAMER_FACE_MODEL", None)
    result = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=120,
    )  # fmt: skip
    folder, dimensions, groups, face_model = result.stdout.splitlines()
    assert Path(folder).is_relative_to(target)  # the installed copy, not the source tree
    assert Path(face_model).is_relative_to(target)  # the shipped face model, no download
    assert dimensions == "arousal,valence"
    assert groups == "['audio', 'eyes', 'landmarks', 'pose', 'text']"
    size_mb = sum(p.stat().st_size for p in (target / "streamer").rglob("*")
                  if p.parent.name in ("models", "codebooks")) / 1e6  # fmt: skip
    # 18.7 MB of networks (8000-word text layers), 1.3 MB of codebooks, 3.8 MB face model
    assert size_mb < 30.0
