"""Command-line flags the commands share: list values checked before any parsing, and the `--policy.*`
training options of the commands that train models themselves (`rewact train`, `progress`, `audit`,
`annotate`, `demo`), split from a command's own flags and checked before any work."""

from __future__ import annotations

# Commands that train RewACT models themselves: they take any --policy.* option of training.
TRAINING_COMMANDS = ("progress", "audit", "annotate", "demo")


def split_policy_options(args: list[str]) -> tuple[list[str], list[str]]:
    """(the command's own flags, the --policy.* training flags other than --policy.path), in either syntax."""
    own, options, i = [], [], 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        takes_next = "=" not in arg and i + 1 < len(args) and not args[i + 1].startswith("--")
        if name.startswith("--policy.") and name not in (
            "--policy.path",
            "--policy.use_amp",
            "--policy.device",
            "--policy.options",
            "--policy.type",
        ):
            options.append(arg if "=" in arg else f"{arg}={args[i + 1]}" if takes_next else arg)
        elif name != "--policy.type":
            own.append(arg)
            if takes_next:
                own.append(args[i + 1])
        i += 2 if takes_next else 1
    return own, options


def check_policy_options(options: list[str]) -> None:
    """Parse the training flags into a RewACTConfig now, so a typo stops before any training."""
    import draccus

    from ..policy.configuration_rewact import RewACTConfig

    try:
        draccus.parse(RewACTConfig, args=[f"--{o[len('--policy.') :]}" for o in options], exit_on_error=False)
    except Exception as e:
        raise SystemExit(f"error: the --policy.* training options are not valid: {root_cause(e)}") from None


def root_cause(error: BaseException) -> str:
    """The innermost message of a chain of errors (draccus wraps a config's own ValueError)."""
    while error.__cause__ is not None or (error.__context__ is not None and not error.__suppress_context__):
        error = error.__cause__ or error.__context__
    text = str(error).strip()
    return text.splitlines()[-1].strip() if text else type(error).__name__


def check_list_flags(args: list[str]) -> None:
    """A flag whose value opens a list (`--dataset.episodes=[30,31`) must be a whole list: one line that
    names the flag and shows the form, instead of the YAML parser's traceback."""
    import yaml

    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if not eq and i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
        if not name.startswith("--") or not value.lstrip().startswith("["):
            continue
        try:
            yaml.safe_load(value)
        except yaml.YAMLError:
            raise SystemExit(
                f"error: {name}={value} is not a list: write it whole, e.g. {name}=[30,31,32]"
            ) from None


def flag_names(config_class: type, prefix: str = "") -> set[str]:
    """Every `--a.b` flag a dataclass config takes (nested dataclasses give dotted names)."""
    import dataclasses

    names = set()
    for f in dataclasses.fields(config_class):
        name = f"{prefix}{f.name}"
        names.add(name)
        kind = f.type if isinstance(f.type, type) else None
        if kind is None and f.default_factory is not dataclasses.MISSING:  # string annotations
            kind = type(f.default_factory())
        if kind is not None and dataclasses.is_dataclass(kind):
            names |= flag_names(kind, f"{name}.")
    return names


def check_exact_flags(config_class: type, args: list[str], command: str) -> None:
    """Refuse a flag that is not exactly one of the command's (argparse would take `--dataset.episode=`
    as an abbreviation of `--dataset.episodes=`), naming the closest ones."""
    import difflib

    known = flag_names(config_class)
    for arg in args:
        if not arg.startswith("--") or arg in ("--help", "-h"):
            continue
        name = arg[2:].split("=", 1)[0]
        if name not in known and not name.startswith("config_path"):
            close = difflib.get_close_matches(name, sorted(known), n=2)
            hint = f": did you mean {' or '.join('--' + c for c in close)}?" if close else ""
            raise SystemExit(f"error: rewact {command} has no option --{name}{hint}")
