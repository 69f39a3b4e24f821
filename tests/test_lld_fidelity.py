"""The numpy LLDs against openSMILE's on a few real EmoDB utterances (full table: benchmarks/lld_fidelity.py)."""

import numpy as np
import pytest

pytest.importorskip("opensmile", reason="openSMILE is not installed (pip install -e '.[test]')")

from benchmarks.lld_fidelity import TARGETS, compare, voicing_agreement  # noqa: E402
from streamer.config import load_config  # noqa: E402
from streamer.features.lld.extractor import LLD_NAMES, AudioLLDExtractor  # noqa: E402
from streamer.features.lld.opensmile_backend import OpenSmileLLDExtractor  # noqa: E402
from streamer.sources.media_file import read_audio  # noqa: E402

# a few utterances of different speakers and emotions
FILES = ["03a01Fa.wav", "09a01Ea.wav", "11b01Ab.wav", "13b03Fd.wav", "15a05Lb.wav"]


def _frames(extractor, samples):
    first = extractor.push(samples)
    rest = extractor.flush()
    return np.concatenate([first.t_s, rest.t_s]), np.concatenate([first.values, rest.values])


@pytest.fixture(scope="module")
def pooled(shared_dir):
    config = load_config().audio
    ours_all, ref_all = [], []
    for name in FILES:
        path = shared_dir / "data" / "emodb" / name
        if not path.exists():
            pytest.skip(f"{path} is absent")
        samples, rate = read_audio(path)
        t_ours, ours = _frames(AudioLLDExtractor(config, rate), samples)
        t_ref, ref = _frames(OpenSmileLLDExtractor(config, rate), samples)
        _, i, j = np.intersect1d(np.round(t_ours * 100), np.round(t_ref * 100), return_indices=True)
        ours_all.append(ours[i])
        ref_all.append(ref[j])
    return np.concatenate(ours_all), np.concatenate(ref_all)


def test_opensmile_backend_gives_the_same_names_and_frame_grid(pooled):
    ours, ref = pooled
    assert ours.shape[1] == ref.shape[1] == len(LLD_NAMES)
    assert len(ours) > 900


def test_correlation_and_level_match_opensmile(pooled):
    for name, (r, ratio, n) in zip(LLD_NAMES, compare(*pooled), strict=True):
        aim = TARGETS.get(name, 0.7)  # the aims: 0.9 spectral, MFCC, F0; 0.7 the rest
        assert r >= aim, f"{name}: r = {r:.3f} over {n} frames"
        assert 0.9 < ratio < 1.1, f"{name}: mean ratio {ratio:.3f}"


def test_voicing_decisions_agree(pooled):
    assert voicing_agreement(*pooled) > 0.98
