"""Configuration: --help, YAML files and CLI flags, one-line errors."""

import pytest

import train
from hatespeech.config import REPO_ROOT, ConfigError, parse_config
from hatespeech.data.loading import DataArguments
from hatespeech.training.steps import TrainingArguments


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--data_dir",
        "--model_name_or_path",
        "--search",
        "--n_trials",
        "--storage",
        "--study_name",
        "--early_stopping_patience",
        "--learning_rate",
        "--config",
    ):
        assert option in out


def test_yaml_values_are_typed_and_cli_flags_override_them(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("learning_rate: 3e-5\nnum_train_epochs: 2\noutput_dir: from-yaml\n")
    *_, training_args, _ = parse_config(
        (DataArguments, TrainingArguments), ["--config", str(config), "--num_train_epochs", "5"], None
    )
    assert training_args.learning_rate == 3e-5 and isinstance(training_args.learning_rate, float)
    assert training_args.num_train_epochs == 5
    assert training_args.output_dir == "from-yaml"


def test_unknown_yaml_option_is_a_clear_error(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("learning_rat: 3e-5\n")
    assert train.main(["--config", str(config)]) == 2
    assert "unknown option(s) ['learning_rat']" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not found"):
        parse_config((DataArguments,), ["--config", str(tmp_path / "missing.yaml")], None)


@pytest.mark.parametrize("name", ["train.yaml", "train_mix.yaml", "train_full.yaml", "train_quick.yaml"])
def test_every_shipped_training_config_parses(name, tmp_path):
    from hatespeech.training.steps import parse_train_args

    data_args, _, _, training_args = parse_train_args(
        ["--config", str(REPO_ROOT / "configs" / name), "--output_dir", str(tmp_path), "--use_cpu"]
    )[:4]
    assert training_args.load_best_model_at_end and data_args.max_seq_length == 128
    if name in ("train_full.yaml", "train_quick.yaml"):  # rule 5's choice (and its quick form): temperature 2
        assert len(data_args.sources) >= 7 and data_args.source_temperature == 2


def test_the_quick_start_is_the_published_configuration_with_its_sources_capped_harder():
    """make train runs configs/train_quick.yaml: the same sources and options as rule 5's choice, each source's
    cap at most the published one, so that it finishes within 15 minutes on 2 CPU cores."""
    import yaml

    full, quick = (
        yaml.safe_load((REPO_ROOT / "configs" / name).read_text()) for name in ("train_full.yaml", "train_quick.yaml")
    )

    def caps(config: dict) -> dict[str, float]:
        return {spec.split(":")[0]: float(spec.split(":")[1]) if ":" in spec else float("inf")
                for spec in config["sources"]}  # fmt: skip

    assert caps(quick).keys() == caps(full).keys()
    assert all(caps(quick)[name] <= cap for name, cap in caps(full).items())
    assert any(caps(quick)[name] < cap for name, cap in caps(full).items())  # capped harder somewhere
    differing = {key for key in full.keys() | quick.keys() if full.get(key) != quick.get(key)}
    assert differing == {"sources", "output_dir"}
