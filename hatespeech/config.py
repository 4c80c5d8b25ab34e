"""Configuration: dataclasses parsed by ``HfArgumentParser`` from a YAML file and/or CLI flags.

CLI flags override the YAML file, which overrides the dataclass defaults. The resolved
configuration is written beside each trained model so a run can be repeated from its folder.
"""

import argparse
import dataclasses
import enum
import re
from pathlib import Path

import yaml
from transformers import HfArgumentParser

# The checkout around the package: where the default configs/ live. Optional: an installed package
# without it runs with the dataclass defaults and explicit --config / --search_space files.
REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET_FIELDS = ("hub_token", "push_to_hub_token")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults (after the YAML file is applied) and keep the usage docstring's layout."""


class ConfigError(ValueError):
    """A configuration file that cannot be used."""


def parse_config(dataclass_types, argv: list[str] | None, default_config: Path | None, description: str = ""):
    """Parse ``--config FILE.yaml`` plus flags into one instance per dataclass type."""
    parser = HfArgumentParser(dataclass_types, description=description, formatter_class=_HelpFormatter)
    parser.add_argument(
        "--config",
        default=str(default_config) if default_config and default_config.exists() else None,
        help="YAML file of options (any flag below, without the dashes); flags given here override it.",
    )
    config_path = _peek_config(argv, parser.get_default("config"))
    if config_path:
        parser.set_defaults(**_load_yaml_defaults(parser, Path(config_path)))
    try:
        *instances, extra = parser.parse_args_into_dataclasses(args=argv)
    except ValueError as err:  # unknown flags, and the dataclasses' own checks (TrainingArguments.__post_init__)
        raise ConfigError(explain(str(err))) from None
    return (*instances, extra.config)


# Conflicts whose message in transformers does not say how to get out of them.
_FIXES = {
    "Some specified arguments are not used by the HfArgumentParser": "see --help for the valid options",
    "load_best_model_at_end requires the save and eval strategy to match": (
        "pass --eval_strategy with the same value as --save_strategy (and --eval_steps equal to --save_steps), "
        "or --load_best_model_at_end false"
    ),
}


def explain(message: str) -> str:
    """A configuration error as one line, with the fix where it is known."""
    line = " ".join(message.split())
    fixes = [fix for known, fix in _FIXES.items() if known in line]
    return f"{line} Fix: {fixes[0]}" if fixes else line


def _peek_config(argv: list[str] | None, default: str | None) -> str | None:
    """Read ``--config`` alone, before the full parse needs its values as defaults."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--config", default=default)
    known, _ = peek.parse_known_args(argv)
    return known.config


def _load_yaml_defaults(parser: argparse.ArgumentParser, path: Path) -> dict:
    """YAML values converted with each option's own type, so ``5e-5`` is a float as on the CLI."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of option names to values")
    actions = {action.dest: action for action in parser._actions}
    unknown = sorted(set(values) - set(actions))
    if unknown:
        raise ConfigError(f"{path}: unknown option(s) {unknown}; see --help for the valid names")
    try:
        return {key: _convert(actions[key], value) for key, value in values.items()}
    except _BadValue as err:
        raise ConfigError(f"{path}: {err}") from None


class _BadValue(ValueError):
    pass


def _convert(action: argparse.Action, value):
    if isinstance(value, list):
        return [_convert(action, item) for item in value]
    if isinstance(value, str) and action.type is not None:
        try:
            return action.type(value)
        except (TypeError, ValueError):
            kind = getattr(action.type, "__name__", "value")
            raise _BadValue(f"{action.dest}: {value!r} is not a valid {kind}") from None
    if action.choices is not None and value is not None and value not in action.choices:
        raise _BadValue(f"{action.dest}: {value!r} is not one of {list(action.choices)}")
    return value


def resolved_config(*instances) -> dict:
    """All options of all dataclasses as plain YAML-able values, secrets left out (a database URL's password
    masked: run_config.yaml is published with the model)."""
    resolved = {}
    for instance in instances:
        for f in dataclasses.fields(instance):
            if f.init and f.name not in SECRET_FIELDS:
                resolved[f.name] = _plain(getattr(instance, f.name))
    if resolved.get("storage"):
        resolved["storage"] = masked_url(resolved["storage"])
    return resolved


def masked_url(url: str) -> str:
    """``scheme://user:***@host/db`` for ``scheme://user:password@host/db``."""
    return re.sub(r"^([^:/]+://[^:/@]+:)[^@]*@", r"\1***@", url)


def _plain(value):
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value):  # e.g. TrainingArguments.accelerator_config after __post_init__
        return _plain(dataclasses.asdict(value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
