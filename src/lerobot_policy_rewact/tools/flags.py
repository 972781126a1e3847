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
