"""Reading a configuration file's text: the one place that turns an unreadable or non-UTF-8 file
into a one-line ConfigError naming the file (TOML and YAML are UTF-8 by definition)."""

from __future__ import annotations

from pathlib import Path

from mdc.errors import ConfigError


def read_config_text(
    path: str | Path, what: str = "config file", error: type[ConfigError] = ConfigError
) -> str:
    """The file's text, or `error` saying which file and what is wrong with it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"cannot read {what} {path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at "
            f"offset {exc.start}); save it as UTF-8"
        ) from exc
