import pytest

from streamer.config import ConfigError, load_config
from tests.conftest import REPO_ROOT


def test_defaults_load_from_the_shipped_file():
    config = load_config()
    assert config.audio.backend == "numpy"
    assert config.csv.separator == ";"


def test_every_key_of_config_yaml_is_known_and_documented():
    import yaml

    text = (REPO_ROOT / "config.yaml").read_text()
    sections = yaml.safe_load(text)
    config = load_config()
    for section, keys in sections.items():
        for key in keys:
            assert hasattr(getattr(config, section), key)
            # each key has a comment line somewhere above it
            assert f"  {key}:" in text


def test_user_file_and_set_override(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("csv:\n  separator: ','\n")
    config = load_config(user, ["audio.resampler_half_width=32", "csv.float_digits=5"])
    assert config.csv.separator == ","
    assert config.audio.resampler_half_width == 32
    assert config.csv.float_digits == 5
    assert config.audio.backend == "numpy"  # untouched keys keep the defaults


def test_int_is_accepted_where_a_float_is_expected():
    assert (
        load_config(overrides=["audio.voicing_energy_threshold=0"]).audio.voicing_energy_threshold
        == 0.0
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("audio.bakend=numpy", "unknown config key 'audio.bakend' (did you mean 'backend'?"),
        ("audi.backend=numpy", "unknown config section 'audi'"),
        ("audio.backend=torch", "audio.backend must be one of 'numpy', 'opensmile', got 'torch'"),
        ("audio.resampler_half_width=2", "audio.resampler_half_width must be between 4 and 256"),
        ("audio.resampler_half_width=many", "audio.resampler_half_width must be int, got 'many'"),
        ("audio.resampler_half_width=true", "audio.resampler_half_width must be int, got True"),
        ("csv.separator=|", "csv.separator must be one of ';', ','"),
        ("audio.backend", "expected section.key=value"),
    ],
)
def test_bad_values_give_one_line_errors_naming_the_key(override, message):
    with pytest.raises(ConfigError) as info:
        load_config(overrides=[override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("audio: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="must hold sections"):
        load_config(scalar)
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("audio: [1, 2]\n")
    with pytest.raises(ConfigError, match="section 'audio' .* must be a mapping"):
        load_config(not_mapping)


def test_config_is_frozen():
    config = load_config()
    with pytest.raises(AttributeError):
        config.audio.backend = "opensmile"
