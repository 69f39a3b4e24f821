"""``streamer features bow`` equals the real openXBOW jar's bags (run as a program) to 1e-6.

The jar makes its own codebook (random++ or kmeans++) and centred bags (``-t 6.0 0.1``)
of random-walk LLDs with regular or irregular timestamps; streamer bags the same CSV with
that codebook. Every bag is compared, the first and last 3 s of the file included.
Skips when Java or the jar (``../shared/tools/openxbow``) is absent.
"""

import pytest

from benchmarks.openxbow_parity import (
    ASSIGNMENTS,
    SCALINGS,
    TOLERANCE,
    Setting,
    compare,
    jar_runnable,
)

SETTINGS = [
    *(
        Setting("random++", a, log, scaling, irregular)
        for a in ASSIGNMENTS
        for log in (True, False)
        for scaling in SCALINGS
        for irregular in (False, True)
    ),
    *(
        Setting("kmeans++", a, True, "-standardizeInput", irr)
        for a in (1, 20)
        for irr in (False, True)
    ),
]


@pytest.fixture(scope="module")
def jar(shared_dir):
    path = shared_dir / "tools" / "openxbow" / "openXBOW.jar"
    reason = jar_runnable(path)
    if reason:
        pytest.skip(reason)
    return path


@pytest.mark.parametrize("setting", SETTINGS, ids=Setting.label)
def test_bags_equal_the_jars(setting, jar, tmp_path):
    n_jar, n_ours, difference = compare(setting, jar, tmp_path, n_frames=2000)
    assert n_ours == n_jar  # the same centres, up to the last frame
    assert difference <= TOLERANCE
